// One device: its connection state and token, and the RPC widgets, each sending real RPCs
// through the REST API.
import type { Device } from '../api.js';
import type { AppContext } from '../context.js';
import { h, type Scope } from '../dom.js';
import { gpioPanel } from '../widgets/gpio.js';
import { knobWidget } from '../widgets/knob.js';
import { ledWidget } from '../widgets/led.js';
import { persistentTable } from '../widgets/persistent-table.js';
import { ResultSlot } from '../widgets/result.js';
import { rpcConsole } from '../widgets/rpc-console.js';
import { switchWidget } from '../widgets/switch.js';
import { connectionDot, showToken } from './devices.js';

export function devicePage(ctx: AppContext, scope: Scope, deviceId: string): Element {
  const head = (<div class="page-head device-head"></div>);
  const body = (<div class="widgets"></div>);
  const status = new ResultSlot();
  scope.onDispose(ctx.live.watch([deviceId]));

  void (async () => {
    const r = await ctx.api.call<Device>('GET', `/api/device/${encodeURIComponent(deviceId)}`);
    if (scope.disposed) return;
    if (!r.ok || r.body === null) {
      status.show(r, { meaning: r.status === 404 ? 'no such device' : 'could not load the device' });
      return;
    }
    const d = r.body;
    const tokenSlot = (<div class="token-slot"></div>);
    head.replaceChildren(
      <div class="device-title">
        <a href="#/devices" class="back" aria-label="All devices">
          ‹
        </a>
        <h2>{d.name}</h2>
        {connectionDot(ctx, deviceId, scope, true)}
      </div>,
      <p class="muted device-meta">
        {`${d.type}${d.label ? ` · ${d.label}` : ''} · id `}
        <code>{d.id.id}</code>
      </p>,
      <div class="row">
        <button type="button" class="small" onClick={() => void showToken(ctx, deviceId, tokenSlot)}>
          Access token
        </button>
        <a class="button small" href={`#/trace?device=${deviceId}`}>
          Trace its messages
        </a>
      </div>,
      tokenSlot,
    );
    const table = persistentTable(ctx, deviceId, scope);
    body.replaceChildren(
      rpcConsole(ctx, deviceId, () => table.refresh()),
      switchWidget(ctx, deviceId),
      gpioPanel(ctx, deviceId),
      knobWidget(ctx, deviceId),
      ledWidget(ctx, deviceId, scope),
      table.el,
    );
  })();

  return (
    <div class="page device-page" data-device-id={deviceId}>
      {head}
      {status.el}
      {body}
    </div>
  );
}
