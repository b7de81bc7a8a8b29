{
  "target_defaults": {
    "cflags": ["-Wall", "-Wextra", "-Werror", "-O2", "-fPIC"],
    "cflags_c": ["-std=gnu11"],
    "cflags_cc": ["-std=gnu++17"],
    "defines": ["_GNU_SOURCE"]
  },
  "targets": [
    {
      "target_name": "aioring_core",
      "type": "static_library",
      "sources": [
        "native/core/ring_error.c",
        "native/core/legacy_ring.c",
        "native/core/v2_ring.c",
        "native/core/v2_lease.c",
        "native/core/ring_memory.c",
        "native/core/system_info.c",
        "native/core/engine.c",
        "native/core/engine_pool.c",
        "native/core/engine_helper.c",
        "native/core/engine_kernel.c"
      ],
      "direct_dependent_settings": {
        "include_dirs": ["native/core"]
      }
    },
    {
      "target_name": "aioring",
      "dependencies": ["aioring_core"],
      "sources": [
        "native/addon/addon.cc",
        "native/addon/aio_error.cc",
        "native/addon/layout_exports.cc",
        "native/addon/ring_bindings.cc",
        "native/addon/memory_bindings.cc",
        "native/addon/kernel_context.cc",
        "native/addon/ring_threads.cc",
        "native/addon/context_bindings.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=9", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_CPP_EXCEPTIONS_ALL"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "libraries": ["-lpthread"]
    },
    {
      "target_name": "fuzz_headers",
      "type": "executable",
      "dependencies": ["aioring_core"],
      "sources": ["test/fixtures/fuzz_headers.c"]
    },
    {
      "target_name": "deny_io_setup",
      "type": "executable",
      "sources": ["test/fixtures/deny_io_setup.c"]
    },
    {
      "target_name": "aioring-libaio",
      "type": "shared_library",
      "dependencies": ["aioring_core"],
      "sources": ["compat/libaio_shim.c", "compat/context_table.c"],
      "include_dirs": ["compat/include"],
      "cflags": ["-fvisibility=hidden"],
      "ldflags": [
        "-Wl,--version-script=<(module_root_dir)/compat/libaio.map",
        "-lpthread"
      ]
    },
    {
      "target_name": "ring_readers",
      "type": "executable",
      "dependencies": ["aioring-libaio"],
      "sources": ["test/fixtures/ring_readers.c"],
      "ldflags": ["-Wl,-rpath,'$$ORIGIN'"]
    },
    {
      "target_name": "libaio_semantics",
      "type": "executable",
      "dependencies": ["aioring-libaio"],
      "sources": ["test/fixtures/libaio_semantics.c"],
      "ldflags": ["-Wl,-rpath,'$$ORIGIN'"]
    },
    {
      "target_name": "lease_ring",
      "type": "executable",
      "dependencies": ["aioring_core"],
      "sources": ["test/fixtures/lease_ring.c"]
    },
    {
      "target_name": "aioring_setup2",
      "type": "executable",
      "dependencies": ["aioring-libaio"],
      "sources": ["test/fixtures/aioring_setup2.c"],
      "include_dirs": ["compat/include"],
      "ldflags": ["-Wl,-rpath,'$$ORIGIN'"]
    }
  ]
}
