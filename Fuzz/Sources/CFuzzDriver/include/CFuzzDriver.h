#include <stddef.h>
#include <stdint.h>

/// Runs libFuzzer's driver on `callback` (the target's `LLVMFuzzerTestOneInput`) and exits with its status.
_Noreturn void ferry_fuzz_run(int argc, char **argv, int (*callback)(const uint8_t *data, size_t size));
