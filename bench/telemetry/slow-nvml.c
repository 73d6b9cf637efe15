/*
 * The fake libnvidia-ml of the tests (tests/fakes/fake-nvml.c), with the cost of a real energy read
 * added, for bench/telemetry.mjs: on an H100 (driver 580.159.04) nvmlDeviceGetTotalEnergyConsumption took
 * 3.96 ms per call (bench/gpu/README.md), against microseconds for the fake.
 *   BENCH_NVML_READ_US=N      each energy read takes N µs more (default 0)
 *   BENCH_NVML_READ_MODE=spin the extra time is spent on the CPU (a busy wait, like a driver polling)
 *   BENCH_NVML_READ_MODE=sleep the extra time is spent waiting (nanosleep: no CPU)
 * Built with: cc -shared -fPIC -O2 -o libnvidia-ml.so.1 bench/telemetry/slow-nvml.c
 */
#define nvmlDeviceGetTotalEnergyConsumption fake_nvmlDeviceGetTotalEnergyConsumption
#include "../../tests/fakes/fake-nvml.c"
#undef nvmlDeviceGetTotalEnergyConsumption

static void read_cost(void) {
  const char *us_text = getenv("BENCH_NVML_READ_US");
  const char *mode = getenv("BENCH_NVML_READ_MODE");
  long us = us_text ? atol(us_text) : 0;
  if (us <= 0) return;
  if (mode && strcmp(mode, "sleep") == 0) {
    struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };
    nanosleep(&ts, NULL);
    return;
  }
  /* spin on the thread's own CPU clock: the time is really spent computing */
  struct timespec start, now;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &start);
  for (;;) {
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
    long elapsed_us = (now.tv_sec - start.tv_sec) * 1000000L + (now.tv_nsec - start.tv_nsec) / 1000L;
    if (elapsed_us >= us) return;
  }
}

nvmlReturn_t nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t device, unsigned long long *energy) {
  read_cost();
  return fake_nvmlDeviceGetTotalEnergyConsumption(device, energy);
}
