// What the simulated device does with a server command, independent of the protocol: the
// methods of ThingsBoard's control widgets (switch/knob: setValue/getValue; GPIO control:
// setGpioStatus/getGpioStatus; checkStatus) and an echo for everything else.

/** The device's state, changed by the commands. */
export interface DeviceState {
  /** The switch (boolean) or knob (number) value of setValue/getValue. */
  value: boolean | number;
  /** GPIO pin → enabled, keyed by the pin number as text (the JSON shape the GPIO widgets read). */
  gpio: Record<string, boolean>;
}

export function initialState(init: Partial<DeviceState> = {}): DeviceState {
  return { value: init.value ?? false, gpio: { ...(init.gpio ?? {}) } };
}

/** ThingsBoard stores params as text, so a widget's `true` may come back as `"true"`: accept both. */
function scalar(params: unknown): boolean | number | undefined {
  if (typeof params === 'boolean' || (typeof params === 'number' && Number.isFinite(params))) return params;
  if (typeof params === 'string') {
    const t = params.trim();
    if (t === 'true' || t === 'false') return t === 'true';
    if (t !== '' && Number.isFinite(Number(t))) return Number(t);
  }
  return undefined;
}

function pinOf(p: unknown): string | undefined {
  const n = typeof p === 'string' && p.trim() !== '' ? Number(p) : p;
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 ? String(n) : undefined;
}

/** Applies one command to `state` (pure apart from that) and returns the reply, any JSON value. */
export function handleCommand(state: DeviceState, method: string, params: unknown): unknown {
  switch (method) {
    case 'getValue':
      return state.value;
    case 'setValue': {
      const v = scalar(params);
      if (v === undefined) return { error: 'setValue expects a boolean or a number' };
      state.value = v;
      return v;
    }
    case 'getGpioStatus':
      return { ...state.gpio };
    case 'setGpioStatus': {
      const p = (typeof params === 'object' && params !== null ? params : {}) as Record<string, unknown>;
      const pin = pinOf(p.pin);
      const enabled = scalar(p.enabled);
      if (pin === undefined || typeof enabled !== 'boolean') return { error: 'setGpioStatus expects {"pin": <number>, "enabled": <boolean>}' };
      state.gpio[pin] = enabled;
      // As ThingsBoard's GPIO demo: the reply is the whole pin map, so the widget redraws every pin.
      return { ...state.gpio };
    }
    case 'checkStatus':
      return { status: true };
    default:
      return { method, params };
  }
}

/** A temperature that wanders like a real sensor's, for periodic telemetry. */
export function nextTemperature(previous: number, random: () => number = Math.random): number {
  const next = previous + (random() - 0.5);
  return Math.round(Math.min(35, Math.max(15, next)) * 10) / 10;
}
