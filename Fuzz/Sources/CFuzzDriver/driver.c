#include "CFuzzDriver.h"

#include <stdlib.h>

// Provided by libFuzzer (libclang_rt.fuzzer), which `-sanitize=fuzzer` links in.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

// Why not simply libFuzzer's own `main`: SwiftPM links every Swift executable with `main` renamed to
// `<Module>_main` (so that tests can link the executable), which hides libFuzzer's `main`. Each fuzzer's
// main.swift therefore calls this from its top-level code, and libFuzzer's driver takes over from there.
void ferry_fuzz_run(int argc, char **argv, int (*callback)(const uint8_t *data, size_t size)) {
    exit(LLVMFuzzerRunDriver(&argc, &argv, callback));
}
