// The page's one EventSource on GET /api/dashboard/events: pages subscribe to event types and say
// which devices they show; the stream is reopened when that set changes.
import { EVENTS_PATH, MAX_WATCHED_DEVICES, TRACE_ALL, type DashboardEvent, type DashboardEventType, type HelloEvent } from '../shared/events.js';

type Listener<E> = (event: E) => void;
type EventOf<T extends DashboardEventType> = Extract<DashboardEvent, { type: T }>;

export type LiveState = 'off' | 'connecting' | 'open' | 'retrying';

export class LiveEvents {
  private source: EventSource | null = null;
  private token: string | null = null;
  private readonly listeners = new Map<DashboardEventType, Set<Listener<DashboardEvent>>>();
  private readonly watched = new Map<string, number>();
  /** Whose trace steps the open pages want ('*' = all); the stream carries none when empty. */
  private readonly traced = new Map<string, number>();
  private readonly stateListeners = new Set<(s: LiveState) => void>();
  private openedFor = '';
  private reopenTimer: number | undefined;
  private retryTimer: number | undefined;
  private retryMs = 1000;
  /** Last known connection state per device: a page shows it at once, before the next change. */
  readonly connected = new Map<string, boolean>();
  hello: HelloEvent | null = null;
  state: LiveState = 'off';

  start(token: string): void {
    this.token = token;
    this.open();
  }

  stop(): void {
    this.token = null;
    this.close();
    this.setState('off');
  }

  on<T extends DashboardEventType>(type: T, fn: Listener<EventOf<T>>): () => void {
    let set = this.listeners.get(type);
    if (!set) this.listeners.set(type, (set = new Set()));
    const l = fn as Listener<DashboardEvent>;
    set.add(l);
    return () => set.delete(l);
  }

  onState(fn: (s: LiveState) => void): () => void {
    this.stateListeners.add(fn);
    fn(this.state);
    return () => this.stateListeners.delete(fn);
  }

  /** Follow these devices' connection state until the returned function is called. */
  watch(deviceIds: readonly string[]): () => void {
    for (const id of deviceIds) this.watched.set(id, (this.watched.get(id) ?? 0) + 1);
    this.scheduleReopen();
    return () => {
      for (const id of deviceIds) {
        const n = (this.watched.get(id) ?? 1) - 1;
        if (n <= 0) this.watched.delete(id);
        else this.watched.set(id, n);
      }
      this.scheduleReopen();
    };
  }

  /** Receive trace steps of this device ('' = of every device) until the returned function is called. */
  followTrace(deviceId: string): () => void {
    const key = deviceId === '' ? TRACE_ALL : deviceId;
    this.traced.set(key, (this.traced.get(key) ?? 0) + 1);
    this.scheduleReopen();
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const n = (this.traced.get(key) ?? 1) - 1;
      if (n <= 0) this.traced.delete(key);
      else this.traced.set(key, n);
      this.scheduleReopen();
    };
  }

  private traceParam(): string {
    // One device, or everything when pages want several.
    return this.traced.size === 0 ? '' : this.traced.size === 1 ? ([...this.traced.keys()][0] as string) : TRACE_ALL;
  }

  private key(): string {
    return `${[...this.watched.keys()].sort().slice(0, MAX_WATCHED_DEVICES).join(',')}|${this.traceParam()}`;
  }

  private scheduleReopen(): void {
    window.clearTimeout(this.reopenTimer);
    // Pages come and go in one tick (navigation): reopen once, after the dust settles.
    this.reopenTimer = window.setTimeout(() => {
      if (this.token !== null && (this.key() !== this.openedFor || this.source === null)) this.open();
    }, 50);
  }

  private open(): void {
    this.close();
    if (this.token === null) return;
    this.openedFor = this.key();
    const devices = [...this.watched.keys()].sort().slice(0, MAX_WATCHED_DEVICES).join(',');
    const trace = this.traceParam();
    const params = new URLSearchParams({ token: this.token });
    if (devices !== '') params.set('devices', devices);
    if (trace !== '') params.set('trace', trace);
    const source = new EventSource(`${EVENTS_PATH}?${params.toString()}`);
    this.source = source;
    this.setState('connecting');
    for (const type of ['hello', 'trace', 'rpc', 'connection'] as const) {
      source.addEventListener(type, (e) => {
        let event: DashboardEvent;
        try {
          event = JSON.parse((e as MessageEvent<string>).data) as DashboardEvent;
        } catch {
          return;
        }
        this.dispatch(event);
      });
    }
    source.onopen = () => {
      this.retryMs = 1000;
      this.setState('open');
    };
    source.onerror = () => {
      if (this.source !== source) return;
      // EventSource retries by itself after a network error, but gives up on an HTTP error
      // (401 after a server restart with a new key): then retry here, with back-off.
      if (source.readyState === EventSource.CLOSED) {
        this.close();
        this.setState('retrying');
        this.retryTimer = window.setTimeout(() => this.open(), this.retryMs);
        this.retryMs = Math.min(this.retryMs * 2, 30_000);
      } else this.setState('retrying');
    };
  }

  private close(): void {
    window.clearTimeout(this.retryTimer);
    this.source?.close();
    this.source = null;
  }

  private dispatch(event: DashboardEvent): void {
    if (event.type === 'hello') this.hello = event;
    if (event.type === 'connection') this.connected.set(event.deviceId, event.connected);
    for (const fn of this.listeners.get(event.type) ?? []) {
      try {
        fn(event);
      } catch (e) {
        console.error(e);
      }
    }
  }

  private setState(s: LiveState): void {
    this.state = s;
    for (const fn of this.stateListeners) fn(s);
  }
}
