// Where a message goes: its partition, and the Redis keys of a queue partition.
import type { TbMsg } from '../msg/tb-msg.js';
import type { QueueConfig } from './queue-config.js';

/** Default base of every queue key; see {@link partitionPrefix}. */
export const DEFAULT_KEY_BASE = 'rc-q';

/**
 * The BullMQ prefix of partition `p`. The hash tag holds the partition, so that on a Redis
 * Cluster every key of one partition (all its queues, its leases) lives in one slot, and the
 * partitions spread over the cluster. BullMQ keys are `<prefix>:<queue name>:<suffix>`.
 */
export function partitionPrefix(base: string, partition: number): string {
  return `{${base}-${partition}}`;
}

/** Owner of partition `p` of a queue: `<owner id>|<fencing token>`, with a TTL. */
export function leaseKey(base: string, queueName: string, partition: number): string {
  return `${partitionPrefix(base, partition)}:${queueName}:lease`;
}

/** Counter that hands out the fencing tokens of that lease; same slot as the lease. */
export function fenceKey(base: string, queueName: string, partition: number): string {
  return `${partitionPrefix(base, partition)}:${queueName}:fence`;
}

/** Sorted set of live consumers of a queue (score = expiry ms), to share partitions fairly. */
export function consumersKey(base: string, queueName: string): string {
  return `${base}:${queueName}:consumers`;
}

/** The entity whose messages must stay in order: the tenant for SEQUENTIAL_BY_TENANT, else the originator. */
export function orderingKey(msg: TbMsg, queue: QueueConfig): string {
  if (queue.submitStrategy.type === 'SEQUENTIAL_BY_TENANT' && msg.tenantId !== null) return msg.tenantId;
  return msg.originator.id;
}

export function partitionOf(msg: TbMsg, queue: QueueConfig): number {
  return queue.partitions === 1 ? 0 : fnv1a(orderingKey(msg, queue)) % queue.partitions;
}

/** 32-bit FNV-1a: fast, well spread for UUIDs, and the same in every process. */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
