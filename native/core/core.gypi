# The C core as a static library, and the flags every target builds with:
# included by the product's binding.gyp and by the test project
# (test/native/binding.gyp), so both build the same sources the same way.
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
      "include_dirs": [".", "../../compat/include"],
      "sources": [
        "ring_error.c",
        "legacy_ring.c",
        "v2_ring.c",
        "v2_lease.c",
        "ring_memory.c",
        "system_info.c",
        "io_exec.c",
        "requests.c",
        "completion.c",
        "engine.c",
        "engine_pool.c",
        "engine_helper.c",
        "engine_kernel.c"
      ],
      "direct_dependent_settings": {
        "include_dirs": [".", "../../compat/include"]
      },
      # The io_uring backend exists where liburing's static library was found
      # at build time; linked in whole, so nothing is needed at run time.
      "conditions": [
        ["<!(test -f \"$(pkg-config --variable=libdir liburing 2>/dev/null)/liburing.a\" && echo 1 || echo 0)==1", {
          "sources": ["engine_uring.c"],
          "defines": ["AIORING_HAVE_URING"],
          "link_settings": {"libraries": ["-l:liburing.a"]}
        }]
      ]
    }
  ]
}
