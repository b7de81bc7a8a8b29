# The test project: the test-only addon (aioring_test.node) and the C
# fixtures, built by the test setup (test/globalSetup.js, npm run build:test)
# into test/native/build/Release, never by an install. Its core is compiled
# with AIORING_TEST_HOOKS. The fixtures that link the drop-in libaio link the
# product's (build/Release/aioring-libaio.so, from npm install or npm run
# build), so they test the library that ships.
{
  "includes": ["../../native/core/core.gypi"],
  "target_defaults": {
    "defines": ["AIORING_TEST_HOOKS"]
  },
  "variables": {
    "product_release": "<(module_root_dir)/../../build/Release"
  },
  "targets": [
    {
      "target_name": "aioring_test",
      "dependencies": ["aioring_core"],
      "sources": [
        "addon/test_addon.cc",
        "addon/layout_exports.cc",
        "addon/ring_bindings.cc",
        "addon/guarded_buffer.cc",
        "addon/ring_threads.cc",
        "../../native/addon/aio_error.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "../../native/addon"],
      # a call made while a worker is being terminated cannot throw into JavaScript: node-addon-api
      # then drops the error instead of throwing it as a C++ exception out of the callback (std::terminate)
      "defines": ["NAPI_VERSION=9", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_CPP_EXCEPTIONS_ALL", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "libraries": ["-lpthread"]
    },
    {
      "target_name": "fuzz_headers",
      "type": "executable",
      "dependencies": ["aioring_core"],
      "sources": ["../fixtures/fuzz_headers.c"]
    },
    {
      "target_name": "deny_io_setup",
      "type": "executable",
      "sources": ["../fixtures/deny_io_setup.c"]
    },
    {
      "target_name": "lease_ring",
      "type": "executable",
      "dependencies": ["aioring_core"],
      "sources": ["../fixtures/lease_ring.c"]
    },
    {
      "target_name": "ring_readers",
      "type": "executable",
      "sources": ["../fixtures/ring_readers.c"],
      "libraries": ["<(product_release)/aioring-libaio.so", "-Wl,-rpath,<(product_release)"]
    },
    {
      "target_name": "libaio_semantics",
      "type": "executable",
      "sources": ["../fixtures/libaio_semantics.c"],
      "libraries": ["<(product_release)/aioring-libaio.so", "-Wl,-rpath,<(product_release)"]
    },
    {
      "target_name": "aioring_setup2",
      "type": "executable",
      "sources": ["../fixtures/aioring_setup2.c"],
      "include_dirs": ["../../compat/include", "../../native/core"],
      "libraries": ["<(product_release)/aioring-libaio.so", "-Wl,-rpath,<(product_release)"]
    },
    {
      "target_name": "forged_head",
      "type": "executable",
      "sources": ["../fixtures/forged_head.c"],
      "include_dirs": ["../../compat/include", "../../native/core"],
      "libraries": ["<(product_release)/aioring-libaio.so", "-Wl,-rpath,<(product_release)"]
    },
    {
      "target_name": "fork_churn",
      "type": "executable",
      "sources": ["../fixtures/fork_churn.c"],
      "libraries": ["<(product_release)/aioring-libaio.so", "-Wl,-rpath,<(product_release)", "-lpthread"]
    }
  ]
}
