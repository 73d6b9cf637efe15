/**
 * NVML through FFI: koffi loads libnvidia-ml.so.1 into this process (no Python, no nvidia-smi child).
 * `openNvml()` never throws for a missing driver: it returns the null implementation with the reason
 * (STYLE.md: a null object instead of `if (gpu)` everywhere). Signatures follow nvml.h.
 */
import * as koffi from 'koffi';
import { InputError, TelemetryError, describeValue } from '../errors.js';
export const DEFAULT_NVML_LIBRARY = 'libnvidia-ml.so.1';
/** Environment variable that overrides the library path (tests point it at the fake library). */
export const NVML_LIBRARY_ENV = 'CARBONBENCH_NVML_LIB';
// nvml.h buffer sizes: NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE and NVML_DEVICE_NAME_V2_BUFFER_SIZE.
const DRIVER_VERSION_BUFFER_SIZE = 80;
const DEVICE_NAME_BUFFER_SIZE = 96;
const NVML_TEMPERATURE_GPU = 0;
/** nvmlReturn_t values (nvml.h). */
export const NVML_SUCCESS = 0;
export const NVML_ERROR_NOT_SUPPORTED = 3;
/** Symbolic names of nvmlReturn_t, for messages a person can search for. */
const NVML_RETURN_NAMES = {
    0: 'NVML_SUCCESS',
    1: 'NVML_ERROR_UNINITIALIZED',
    2: 'NVML_ERROR_INVALID_ARGUMENT',
    3: 'NVML_ERROR_NOT_SUPPORTED',
    4: 'NVML_ERROR_NO_PERMISSION',
    5: 'NVML_ERROR_ALREADY_INITIALIZED',
    6: 'NVML_ERROR_NOT_FOUND',
    7: 'NVML_ERROR_INSUFFICIENT_SIZE',
    8: 'NVML_ERROR_INSUFFICIENT_POWER',
    9: 'NVML_ERROR_DRIVER_NOT_LOADED',
    10: 'NVML_ERROR_TIMEOUT',
    11: 'NVML_ERROR_IRQ_ISSUE',
    12: 'NVML_ERROR_LIBRARY_NOT_FOUND',
    13: 'NVML_ERROR_FUNCTION_NOT_FOUND',
    14: 'NVML_ERROR_CORRUPTED_INFOROM',
    15: 'NVML_ERROR_GPU_IS_LOST',
    16: 'NVML_ERROR_RESET_REQUIRED',
    17: 'NVML_ERROR_OPERATING_SYSTEM',
    18: 'NVML_ERROR_LIB_RM_VERSION_MISMATCH',
    19: 'NVML_ERROR_IN_USE',
    20: 'NVML_ERROR_MEMORY',
    21: 'NVML_ERROR_NO_DATA',
    22: 'NVML_ERROR_VGPU_ECC_NOT_SUPPORTED',
    23: 'NVML_ERROR_INSUFFICIENT_RESOURCES',
    24: 'NVML_ERROR_FREQ_NOT_SUPPORTED',
    25: 'NVML_ERROR_ARGUMENT_VERSION_MISMATCH',
    26: 'NVML_ERROR_DEPRECATED',
    27: 'NVML_ERROR_NOT_READY',
    28: 'NVML_ERROR_GPU_NOT_FOUND',
    29: 'NVML_ERROR_INVALID_STATE',
    999: 'NVML_ERROR_UNKNOWN',
};
/** An NVML call returned an error code; `nvmlReturn` keeps the code for callers that branch on it. */
export class NvmlError extends TelemetryError {
    nvmlReturn;
    constructor(message, nvmlReturn) {
        super(message);
        this.nvmlReturn = nvmlReturn;
    }
}
/** `NVML_ERROR_DRIVER_NOT_LOADED (9): Driver Not Loaded`; the text comes from nvmlErrorString. */
export function describeNvmlReturn(code, errorString) {
    const name = NVML_RETURN_NAMES[code] ?? 'unknown nvmlReturn_t';
    return errorString === null || errorString === '' ? `${name} (${code})` : `${name} (${code}): ${errorString}`;
}
/**
 * The one table from NVML return codes to project outcomes: SUCCESS → 'ok', NOT_SUPPORTED → 'missing'
 * (the caller turns it into null, never 0), anything else → NvmlError (a TelemetryError).
 */
function checkReturn(code, call, errorString) {
    if (code === NVML_SUCCESS)
        return 'ok';
    if (code === NVML_ERROR_NOT_SUPPORTED)
        return 'missing';
    throw new NvmlError(`${call} failed: ${describeNvmlReturn(code, errorString(code))}`, code);
}
// nvmlDevice_t is `struct nvmlDevice_st *`: an opaque pointer. The type is anonymous because koffi's
// named types are process-global and openNvml() may run more than once.
const deviceHandleType = koffi.pointer(koffi.opaque());
function bind(lib) {
    const uintOut = koffi.out(koffi.pointer('unsigned int'));
    return {
        init: lib.func('nvmlInit_v2', 'int', []),
        shutdown: lib.func('nvmlShutdown', 'int', []),
        errorString: lib.func('nvmlErrorString', 'const char *', ['int']),
        // char buffers are declared as uint8_t * so that koffi passes the Buffer's memory (a `char *`
        // parameter would be marshalled as an input string).
        systemGetDriverVersion: lib.func('nvmlSystemGetDriverVersion', 'int', [
            'uint8_t *',
            'unsigned int',
        ]),
        deviceGetCount: lib.func('nvmlDeviceGetCount_v2', 'int', [uintOut]),
        deviceGetHandleByIndex: lib.func('nvmlDeviceGetHandleByIndex_v2', 'int', [
            'unsigned int',
            koffi.out(koffi.pointer(deviceHandleType)),
        ]),
        deviceGetName: lib.func('nvmlDeviceGetName', 'int', [
            deviceHandleType,
            'uint8_t *',
            'unsigned int',
        ]),
        deviceGetTotalEnergyConsumption: lib.func('nvmlDeviceGetTotalEnergyConsumption', 'int', [
            deviceHandleType,
            koffi.out(koffi.pointer('unsigned long long')),
        ]),
        deviceGetPowerUsage: lib.func('nvmlDeviceGetPowerUsage', 'int', [
            deviceHandleType,
            uintOut,
        ]),
        // nvmlTemperatureSensors_t is an enum: int-sized in the C ABI.
        deviceGetTemperature: lib.func('nvmlDeviceGetTemperature', 'int', [
            deviceHandleType,
            'int',
            uintOut,
        ]),
    };
}
function cString(buffer) {
    const end = buffer.indexOf(0);
    return buffer.toString('utf8', 0, end === -1 ? buffer.length : end);
}
function errorMessage(error) {
    return error instanceof Error ? error.message : String(error);
}
class FfiNvml {
    ffi;
    count;
    available = true;
    unavailableReason = null;
    handles = new Map();
    closed = false;
    /** Asynchronous calls still running on a worker thread; nvmlShutdown waits for them. */
    asyncCalls = 0;
    shutdownPending = false;
    constructor(ffi, count) {
        this.ffi = ffi;
        this.count = count;
    }
    driverVersion() {
        this.assertOpen();
        const buffer = Buffer.alloc(DRIVER_VERSION_BUFFER_SIZE);
        const code = this.ffi.systemGetDriverVersion(buffer, buffer.length);
        return this.check(code, 'nvmlSystemGetDriverVersion') === 'ok' ? cString(buffer) : null;
    }
    deviceCount() {
        return this.closed ? 0 : this.count;
    }
    deviceName(gpuIndex) {
        const handle = this.handle(gpuIndex);
        const buffer = Buffer.alloc(DEVICE_NAME_BUFFER_SIZE);
        const code = this.ffi.deviceGetName(handle, buffer, buffer.length);
        return this.check(code, `nvmlDeviceGetName(gpu ${gpuIndex})`) === 'ok' ? cString(buffer) : null;
    }
    totalEnergyMj(gpuIndex) {
        const handle = this.handle(gpuIndex);
        const out = [0];
        const code = this.ffi.deviceGetTotalEnergyConsumption(handle, out);
        // BigInt() of a number is exact here: koffi only returns a number for safe integers.
        return this.check(code, `nvmlDeviceGetTotalEnergyConsumption(gpu ${gpuIndex})`) === 'ok' ? BigInt(out[0]) : null;
    }
    totalEnergyMjAsync(gpuIndex) {
        let handle;
        try {
            handle = this.handle(gpuIndex);
        }
        catch (error) {
            return Promise.reject(error);
        }
        return new Promise((resolve, reject) => {
            const out = [0];
            this.asyncCalls += 1;
            this.ffi.deviceGetTotalEnergyConsumption.async(handle, out, (error, code) => {
                this.asyncCalls -= 1;
                try {
                    if (error)
                        throw new TelemetryError(`nvmlDeviceGetTotalEnergyConsumption(gpu ${gpuIndex}) failed on a worker thread: ${errorMessage(error)}`, { cause: error });
                    resolve(this.check(code, `nvmlDeviceGetTotalEnergyConsumption(gpu ${gpuIndex})`) === 'ok' ? BigInt(out[0]) : null);
                }
                catch (thrown) {
                    reject(thrown);
                }
                finally {
                    if (this.shutdownPending && this.asyncCalls === 0)
                        this.finishShutdown();
                }
            });
        });
    }
    powerW(gpuIndex) {
        const handle = this.handle(gpuIndex);
        const out = [0];
        const code = this.ffi.deviceGetPowerUsage(handle, out);
        return this.check(code, `nvmlDeviceGetPowerUsage(gpu ${gpuIndex})`) === 'ok' ? out[0] / 1000 : null;
    }
    tempC(gpuIndex) {
        const handle = this.handle(gpuIndex);
        const out = [0];
        const code = this.ffi.deviceGetTemperature(handle, NVML_TEMPERATURE_GPU, out);
        return this.check(code, `nvmlDeviceGetTemperature(gpu ${gpuIndex})`) === 'ok' ? out[0] : null;
    }
    shutdown() {
        if (this.closed)
            return;
        this.closed = true;
        this.handles.clear();
        // A call still running on a worker thread gets to finish first: nvmlShutdown under it would pull the
        // device handle away mid-call. The last one to return shuts NVML down.
        if (this.asyncCalls > 0) {
            this.shutdownPending = true;
            return;
        }
        // The library stays mapped (koffi unloads it when the last function object is collected): unloading
        // explicitly would turn any late call from a stray timer into a crash instead of an error.
        this.check(this.ffi.shutdown(), 'nvmlShutdown');
    }
    finishShutdown() {
        this.shutdownPending = false;
        // Nobody is left to throw to: a failing nvmlShutdown after the process stopped polling is moot.
        this.ffi.shutdown();
    }
    check(code, call) {
        return checkReturn(code, call, this.ffi.errorString);
    }
    assertOpen() {
        if (this.closed)
            throw new TelemetryError('NVML was shut down; call openNvml() again');
    }
    /** Device handles are cached per index: they stay valid until nvmlShutdown. */
    handle(gpuIndex) {
        this.assertOpen();
        if (!Number.isInteger(gpuIndex) || gpuIndex < 0 || gpuIndex >= this.count) {
            throw new InputError(`Expected \`gpuIndex\` to be an integer in [0, ${this.count}), got ${describeValue(gpuIndex)}`);
        }
        const cached = this.handles.get(gpuIndex);
        if (cached !== undefined)
            return cached;
        const out = [null];
        const code = this.ffi.deviceGetHandleByIndex(gpuIndex, out);
        if (this.check(code, `nvmlDeviceGetHandleByIndex_v2(${gpuIndex})`) === 'missing') {
            throw new NvmlError(`nvmlDeviceGetHandleByIndex_v2(${gpuIndex}) is not supported`, code);
        }
        this.handles.set(gpuIndex, out[0]);
        return out[0];
    }
}
class NullNvml {
    unavailableReason;
    available = false;
    constructor(unavailableReason) {
        this.unavailableReason = unavailableReason;
    }
    driverVersion() {
        return null;
    }
    deviceCount() {
        return 0;
    }
    deviceName() {
        return null;
    }
    totalEnergyMj() {
        return null;
    }
    powerW() {
        return null;
    }
    tempC() {
        return null;
    }
    shutdown() { }
}
/** The null object: every reading missing, `unavailableReason` says why (for doctor). */
export function nullNvml(reason) {
    return new NullNvml(reason);
}
export function resolveNvmlLibraryPath(options = {}) {
    const fromEnv = process.env[NVML_LIBRARY_ENV];
    return options.libraryPath ?? (fromEnv !== undefined && fromEnv !== '' ? fromEnv : DEFAULT_NVML_LIBRARY);
}
/**
 * Loads NVML and calls nvmlInit_v2 and nvmlDeviceGetCount_v2. Never throws for a missing library, a
 * missing symbol (an old driver) or a failed init: those give the null implementation with the reason.
 */
export function openNvml(options = {}) {
    const libraryPath = resolveNvmlLibraryPath(options);
    let ffi;
    try {
        ffi = bind(koffi.load(libraryPath));
    }
    catch (error) {
        return nullNvml(`cannot load NVML library "${libraryPath}": ${errorMessage(error)}`);
    }
    const initCode = ffi.init();
    if (initCode !== NVML_SUCCESS) {
        return nullNvml(`nvmlInit_v2 failed (library "${libraryPath}"): ${describeNvmlReturn(initCode, ffi.errorString(initCode))}`);
    }
    const count = [0];
    const countCode = ffi.deviceGetCount(count);
    if (countCode !== NVML_SUCCESS) {
        ffi.shutdown();
        return nullNvml(`nvmlDeviceGetCount_v2 failed (library "${libraryPath}"): ${describeNvmlReturn(countCode, ffi.errorString(countCode))}`);
    }
    return new FfiNvml(ffi, count[0]);
}
//# sourceMappingURL=nvml.js.map