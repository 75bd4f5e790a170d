import { randomUUID } from 'node:crypto';
import { isEntityType, type EntityId } from './entity.js';

export type MsgDataType = 'JSON' | 'TEXT' | 'BINARY';

/** Metadata is a flat string→string map, as in ThingsBoard's TbMsgMetaData. */
export type MsgMetaData = Readonly<Record<string, string>>;

/** Where a message is inside nested chains: the input nodes it has to return to. */
export interface ChainStackFrame {
  readonly ruleChainId: string;
  readonly ruleNodeId: string;
}

/**
 * A rule-engine message, shaped like ThingsBoard's TbMsg. Messages are treated as
 * immutable: a node that changes one makes a new one with {@link transformMsg}.
 */
export interface TbMsg {
  readonly id: string;
  readonly ts: number;
  readonly type: string;
  readonly originator: EntityId;
  readonly customerId: string | null;
  readonly metaData: MsgMetaData;
  readonly dataType: MsgDataType;
  readonly data: string;
  readonly ruleChainId: string | null;
  readonly ruleNodeId: string | null;
  readonly queueName: string;
  readonly tenantId: string | null;
  /**
   * Set on a message a node sent on later (enqueueForTellNext): with ruleChainId and ruleNodeId
   * it says where the message continues when taken from a queue, and the chain stack to return through.
   */
  readonly resume?: { readonly relations: readonly string[]; readonly stack: readonly ChainStackFrame[] };
}

export interface NewMsg {
  type: string;
  originator: EntityId;
  data?: string;
  metaData?: Record<string, string | null | undefined>;
  dataType?: MsgDataType;
  customerId?: string | null;
  tenantId?: string | null;
  ruleChainId?: string | null;
  queueName?: string;
  ts?: number;
  id?: string;
}

export const DEFAULT_QUEUE = 'Main';

export function newMsg(init: NewMsg): TbMsg {
  return {
    id: init.id ?? randomUUID(),
    ts: init.ts ?? Date.now(),
    type: init.type,
    originator: init.originator,
    customerId: init.customerId ?? null,
    metaData: cleanMetaData(init.metaData ?? {}),
    dataType: init.dataType ?? 'JSON',
    data: init.data ?? '{}',
    ruleChainId: init.ruleChainId ?? null,
    ruleNodeId: null,
    queueName: init.queueName ?? DEFAULT_QUEUE,
    tenantId: init.tenantId ?? null,
  };
}

export interface MsgChanges {
  type?: string;
  originator?: EntityId;
  customerId?: string | null;
  metaData?: Record<string, string | null | undefined>;
  dataType?: MsgDataType;
  data?: string;
  ruleChainId?: string | null;
  ruleNodeId?: string | null;
  queueName?: string;
}

/** A changed copy that keeps the id (ThingsBoard's TbMsg.transform). */
export function transformMsg(msg: TbMsg, changes: MsgChanges): TbMsg {
  const { metaData, ...rest } = changes;
  return { ...msg, ...rest, ...(metaData ? { metaData: cleanMetaData(metaData) } : {}) };
}

/** A copy with a new id, as ThingsBoard makes for each branch of a fan-out. */
export function copyMsg(msg: TbMsg, changes: MsgChanges = {}): TbMsg {
  return { ...transformMsg(msg, changes), id: randomUUID() };
}

/** Drops null and undefined values: TbMsgMetaData never holds them. */
export function cleanMetaData(md: Record<string, string | null | undefined>): MsgMetaData {
  const out: Record<string, string> = {};
  for (const key of Object.keys(md)) {
    const value = md[key];
    if (value !== null && value !== undefined) out[key] = String(value);
  }
  return out;
}

/** Parses msg.data as JSON; undefined when it is not JSON. */
export function parseMsgData(msg: TbMsg): unknown {
  try {
    return JSON.parse(msg.data) as unknown;
  } catch {
    return undefined;
  }
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Checks an unknown JSON value (e.g. a --msg argument) and makes a TbMsg of it, or throws naming the field. */
export function msgFromJson(value: unknown): TbMsg {
  if (!isPlainObject(value)) throw new TypeError('message must be a JSON object');
  const { type, originator } = value;
  if (typeof type !== 'string' || type === '') throw new TypeError('message field "type" must be a non-empty string');
  if (!isPlainObject(originator) || typeof originator.entityType !== 'string' || typeof originator.id !== 'string') {
    throw new TypeError('message field "originator" must be {"entityType": string, "id": string}');
  }
  if (!isEntityType(originator.entityType)) {
    throw new TypeError(`message field "originator.entityType" must be an entity type such as DEVICE, got "${originator.entityType}"`);
  }
  const md = value.metaData ?? value.metadata ?? {};
  if (!isPlainObject(md)) throw new TypeError('message field "metaData" must be an object of strings');
  const data = value.data ?? {};
  const dataText = typeof data === 'string' ? data : JSON.stringify(data);
  const dataType = value.dataType ?? 'JSON';
  if (dataType !== 'JSON' && dataType !== 'TEXT' && dataType !== 'BINARY') {
    throw new TypeError('message field "dataType" must be JSON, TEXT or BINARY');
  }
  return newMsg({
    id: typeof value.id === 'string' ? value.id : undefined,
    ts: typeof value.ts === 'number' ? value.ts : undefined,
    type,
    originator: { entityType: originator.entityType, id: originator.id },
    customerId: typeof value.customerId === 'string' ? value.customerId : null,
    tenantId: typeof value.tenantId === 'string' ? value.tenantId : null,
    metaData: Object.fromEntries(Object.entries(md).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)])),
    dataType,
    data: dataText,
    queueName: typeof value.queueName === 'string' ? value.queueName : undefined,
  });
}
