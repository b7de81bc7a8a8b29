# What an install builds: the core, the addon and the drop-in libaio. Test
# bindings and fixtures are the test project's (test/native/binding.gyp).
{
  "includes": ["native/core/core.gypi"],
  "targets": [
    {
      "target_name": "aioring",
      "dependencies": ["aioring_core"],
      "sources": [
        "native/addon/addon.cc",
        "native/addon/aio_error.cc",
        "native/addon/system_bindings.cc",
        "native/addon/memory_bindings.cc",
        "native/addon/kernel_context.cc",
        "native/addon/context_bindings.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      # a call made while a worker is being terminated cannot throw into JavaScript: node-addon-api
      # then drops the error instead of throwing it as a C++ exception out of the callback (std::terminate)
      "defines": ["NAPI_VERSION=9", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_CPP_EXCEPTIONS_ALL", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "libraries": ["-lpthread"],
      # never unloaded: the uv handles a worker's teardown closes call back into it after its env is gone
      "ldflags": ["-Wl,-z,nodelete"]
    },
    {
      "target_name": "aioring-libaio",
      "type": "shared_library",
      "dependencies": ["aioring_core"],
      "sources": ["compat/libaio_shim.c", "compat/context_table.c", "compat/kernel_contract.c",
                  "compat/syscall_route.c"],
      "include_dirs": ["compat/include"],
      "cflags": ["-fvisibility=hidden"],
      "ldflags": [
        "-Wl,--version-script=<(module_root_dir)/compat/libaio.map",
        "-lpthread"
      ]
    }
  ]
}
