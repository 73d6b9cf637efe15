/*
 * Fake libnvidia-ml.so.1 for tests: exports the NVML symbols that src/telemetry/nvml.ts declares, with
 * the real nvml.h signatures, so that the koffi FFI path runs on machines without a GPU.
 * Built by tests/helpers/fake-nvml.ts (cc -shared -fPIC -O2).
 *
 * Configuration, read from the environment at the first nvmlInit_v2 (and again after the last
 * nvmlShutdown, so one process can run several configurations):
 *   FAKE_NVML_GPUS=N            device count (default 1, at most MAX_GPUS)
 *   FAKE_NVML_NAME=...          device name of every GPU (default "NVIDIA H100 80GB HBM3")
 *   FAKE_NVML_DRIVER=...        driver version (default "580.159.04")
 *   FAKE_NVML_INIT_ERROR=code   nvmlInit_v2 returns this NVML return code (e.g. 9 = DRIVER_NOT_LOADED)
 *   FAKE_NVML_NO_ENERGY=1       nvmlDeviceGetTotalEnergyConsumption returns 3 (NOT_SUPPORTED)
 *   FAKE_NVML_TRACE=path        CSV "t,energy_mJ" (epoch s, mJ) replayed in real time from nvmlInit
 *   FAKE_NVML_POWER_W=W         without a trace: constant power of GPU 0 (default 100); GPU i draws W + 10 i
 *   FAKE_NVML_BASE_MJ=mJ        without a trace: counter value at nvmlInit (default 10^10, above 2^32 so
 *                               the 64-bit path is exercised)
 *   FAKE_NVML_RESET_AFTER_S=s   the counter drops to 0 that many seconds after nvmlInit, then counts on
 *   FAKE_NVML_READ_US=us        each energy read takes that many µs (nanosleep: wall time, no CPU), as a
 *                               real one does (~4,000 µs on an H100, driver 580)
 *
 * Replay is a step function (sample-and-hold): a read at wall time w returns the counter of the last trace
 * row with t <= t0 + (w - init time). The real counter is itself a staircase (in the H100 trace it moves
 * every ~100 ms while rows are 25 ms apart), so holding values keeps the quantisation a poller really sees.
 * Past the end the trace loops, each loop adding the trace's total delta, so the counter stays monotonic.
 * Power is the slope of the trace over the trailing second (for the first second: over the trace's first
 * second), like the one-second average that nvmlDeviceGetPowerUsage reports on recent GPUs.
 * Temperature is 40 + index degrees C. All times are CLOCK_REALTIME, the clock behind Date.now().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef int nvmlReturn_t; /* an enum in nvml.h: int-sized in the C ABI */
typedef struct nvmlDevice_st *nvmlDevice_t;
struct nvmlDevice_st { unsigned int index; };

enum {
  NVML_SUCCESS = 0, NVML_ERROR_UNINITIALIZED = 1, NVML_ERROR_INVALID_ARGUMENT = 2,
  NVML_ERROR_NOT_SUPPORTED = 3, NVML_ERROR_INSUFFICIENT_SIZE = 7, NVML_ERROR_UNKNOWN = 999,
};
#define MAX_GPUS 16

static struct nvmlDevice_st devices[MAX_GPUS];
static int init_count;      /* NVML reference-counts nvmlInit/nvmlShutdown */
static double init_wall_s;  /* epoch seconds at the first nvmlInit_v2 */
static unsigned int gpu_count;
static char name[96], driver[80];
static int no_energy;
static double power_w, reset_after_s;
static long read_us;
static unsigned long long base_mj;
static double *trace_t;               /* seconds since the first row */
static unsigned long long *trace_mj;
static size_t trace_n;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *env_or(const char *key, const char *fallback) {
  const char *value = getenv(key);
  return value != NULL && value[0] != '\0' ? value : fallback;
}

static void free_trace(void) {
  free(trace_t);
  free(trace_mj);
  trace_t = NULL;
  trace_mj = NULL;
  trace_n = 0;
}

/* Reads "t,energy_mJ" lines after a header; returns 0 on success. */
static int load_trace(const char *path) {
  FILE *file = fopen(path, "r");
  if (file == NULL) return -1;
  size_t capacity = 1024;
  trace_t = malloc(capacity * sizeof *trace_t);
  trace_mj = malloc(capacity * sizeof *trace_mj);
  char line[256];
  double t0 = 0;
  if (fgets(line, sizeof line, file) == NULL) { fclose(file); return -1; } /* header */
  while (fgets(line, sizeof line, file) != NULL) {
    double t;
    unsigned long long mj;
    if (sscanf(line, "%lf,%llu", &t, &mj) != 2) continue;
    if (trace_n == capacity) {
      capacity *= 2;
      trace_t = realloc(trace_t, capacity * sizeof *trace_t);
      trace_mj = realloc(trace_mj, capacity * sizeof *trace_mj);
    }
    if (trace_n == 0) t0 = t;
    trace_t[trace_n] = t - t0;
    trace_mj[trace_n] = mj;
    trace_n++;
  }
  fclose(file);
  return trace_n >= 2 ? 0 : -1;
}

/* Counter at `rel` seconds into the replay: the last row at or before it, looping past the end. */
static unsigned long long trace_at(double rel) {
  double span = trace_t[trace_n - 1];
  unsigned long long loops = 0;
  if (rel >= span) {
    loops = (unsigned long long)(rel / span);
    rel -= (double)loops * span;
  }
  size_t lo = 0, hi = trace_n - 1; /* binary search: trace_t[lo] <= rel < trace_t[hi] */
  if (rel < 0) rel = 0;
  while (hi - lo > 1) {
    size_t mid = (lo + hi) / 2;
    if (trace_t[mid] <= rel) lo = mid; else hi = mid;
  }
  return trace_mj[lo] + loops * (trace_mj[trace_n - 1] - trace_mj[0]);
}

static unsigned long long counter_at(unsigned int index, double elapsed_s) {
  if (trace_n > 0) return trace_at(elapsed_s);
  double gpu_power_w = power_w + 10.0 * index;
  return base_mj + (unsigned long long)(gpu_power_w * 1000.0 * elapsed_s);
}

static unsigned long long energy_mj(unsigned int index) {
  double elapsed_s = now_s() - init_wall_s;
  unsigned long long value = counter_at(index, elapsed_s);
  if (reset_after_s > 0 && elapsed_s >= reset_after_s) value -= counter_at(index, reset_after_s);
  return value;
}

static unsigned int power_mw(unsigned int index) {
  if (trace_n == 0) return (unsigned int)((power_w + 10.0 * index) * 1000.0);
  double end_s = now_s() - init_wall_s;
  if (end_s < 1.0) end_s = 1.0;
  return (unsigned int)(trace_at(end_s) - trace_at(end_s - 1.0)); /* mJ per 1 s = mW */
}

static int valid_device(nvmlDevice_t device) {
  return device >= devices && device < devices + gpu_count;
}

nvmlReturn_t nvmlInit_v2(void) {
  int init_error = atoi(env_or("FAKE_NVML_INIT_ERROR", "0"));
  if (init_error != 0) return init_error;
  if (init_count++ > 0) return NVML_SUCCESS;
  gpu_count = (unsigned int)atoi(env_or("FAKE_NVML_GPUS", "1"));
  if (gpu_count > MAX_GPUS) gpu_count = MAX_GPUS;
  for (unsigned int i = 0; i < MAX_GPUS; i++) devices[i].index = i;
  snprintf(name, sizeof name, "%s", env_or("FAKE_NVML_NAME", "NVIDIA H100 80GB HBM3"));
  snprintf(driver, sizeof driver, "%s", env_or("FAKE_NVML_DRIVER", "580.159.04"));
  no_energy = strcmp(env_or("FAKE_NVML_NO_ENERGY", "0"), "1") == 0;
  power_w = atof(env_or("FAKE_NVML_POWER_W", "100"));
  base_mj = strtoull(env_or("FAKE_NVML_BASE_MJ", "10000000000"), NULL, 10);
  reset_after_s = atof(env_or("FAKE_NVML_RESET_AFTER_S", "0"));
  read_us = atol(env_or("FAKE_NVML_READ_US", "0"));
  free_trace();
  const char *trace = getenv("FAKE_NVML_TRACE");
  if (trace != NULL && trace[0] != '\0' && load_trace(trace) != 0) {
    fprintf(stderr, "fake-nvml: cannot read trace %s\n", trace);
    free_trace();
    init_count = 0;
    return NVML_ERROR_UNKNOWN;
  }
  init_wall_s = now_s();
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlShutdown(void) {
  if (init_count == 0) return NVML_ERROR_UNINITIALIZED;
  if (--init_count == 0) free_trace();
  return NVML_SUCCESS;
}

const char *nvmlErrorString(nvmlReturn_t result) {
  switch (result) {
    case 0: return "Success";
    case 1: return "Uninitialized";
    case 2: return "Invalid Argument";
    case 3: return "Not Supported";
    case 4: return "Insufficient Permissions";
    case 7: return "Insufficient Size";
    case 9: return "Driver Not Loaded";
    case 12: return "NVML Shared Library Not Found";
    case 15: return "GPU is lost";
    default: return "Unknown Error";
  }
}

nvmlReturn_t nvmlSystemGetDriverVersion(char *version, unsigned int length) {
  if (init_count == 0) return NVML_ERROR_UNINITIALIZED;
  if (version == NULL) return NVML_ERROR_INVALID_ARGUMENT;
  if (strlen(driver) + 1 > length) return NVML_ERROR_INSUFFICIENT_SIZE;
  memcpy(version, driver, strlen(driver) + 1);
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *device_count) {
  if (init_count == 0) return NVML_ERROR_UNINITIALIZED;
  if (device_count == NULL) return NVML_ERROR_INVALID_ARGUMENT;
  *device_count = gpu_count;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device) {
  if (init_count == 0) return NVML_ERROR_UNINITIALIZED;
  if (index >= gpu_count || device == NULL) return NVML_ERROR_INVALID_ARGUMENT;
  *device = &devices[index];
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char *out, unsigned int length) {
  if (init_count == 0) return NVML_ERROR_UNINITIALIZED;
  if (!valid_device(device) || out == NULL) return NVML_ERROR_INVALID_ARGUMENT;
  if (strlen(name) + 1 > length) return NVML_ERROR_INSUFFICIENT_SIZE;
  memcpy(out, name, strlen(name) + 1);
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t device, unsigned long long *energy) {
  if (init_count == 0) return NVML_ERROR_UNINITIALIZED;
  if (!valid_device(device) || energy == NULL) return NVML_ERROR_INVALID_ARGUMENT;
  if (no_energy) return NVML_ERROR_NOT_SUPPORTED;
  if (read_us > 0) {
    struct timespec cost = { read_us / 1000000, (read_us % 1000000) * 1000 };
    nanosleep(&cost, NULL);
  }
  *energy = energy_mj(device->index);
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t device, unsigned int *power) {
  if (init_count == 0) return NVML_ERROR_UNINITIALIZED;
  if (!valid_device(device) || power == NULL) return NVML_ERROR_INVALID_ARGUMENT;
  *power = power_mw(device->index);
  return NVML_SUCCESS;
}

/* sensor_type is nvmlTemperatureSensors_t, an enum: 0 = NVML_TEMPERATURE_GPU is the only one defined */
nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t device, int sensor_type, unsigned int *temp) {
  if (init_count == 0) return NVML_ERROR_UNINITIALIZED;
  if (!valid_device(device) || temp == NULL || sensor_type != 0) return NVML_ERROR_INVALID_ARGUMENT;
  *temp = 40 + device->index;
  return NVML_SUCCESS;
}
