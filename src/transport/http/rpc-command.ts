// A server command as HTTP and CoAP devices receive it: `{"id": <int>, "method", "params"}`
// (spec/rpc.md §7.2, §7.3; the id is a JSON number, as ThingsBoard's code emits it).
import { DevicePayloadError } from '../device-messages.js';
import type { ToDeviceRpcRequest } from '../transport-api.js';

/** The command's JSON text; DevicePayloadError when its stored params are not JSON. */
export function rpcCommandBody(request: ToDeviceRpcRequest): string {
  let params: unknown = null;
  if (request.params.trim() !== '') {
    try {
      params = JSON.parse(request.params) as unknown;
    } catch (e) {
      throw new DevicePayloadError(`params are not JSON: ${(e as Error).message}`);
    }
  }
  return JSON.stringify({ id: request.requestId, method: request.method, params });
}
