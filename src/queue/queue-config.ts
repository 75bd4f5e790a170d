// ThingsBoard's rule-engine queue definitions (common/data/queue/Queue.java), checked with ajv.
import { Ajv, type JSONSchemaType } from 'ajv';
import { describeAjvErrors } from '../engine/ajv.js';

export const SUBMIT_STRATEGY_TYPES = [
  'BURST',
  'BATCH',
  'SEQUENTIAL_BY_ORIGINATOR',
  'SEQUENTIAL_BY_TENANT',
  'SEQUENTIAL',
] as const;
export type SubmitStrategyType = (typeof SUBMIT_STRATEGY_TYPES)[number];

export const PROCESSING_STRATEGY_TYPES = [
  'SKIP_ALL_FAILURES',
  'SKIP_ALL_FAILURES_AND_TIMED_OUT',
  'RETRY_ALL',
  'RETRY_FAILED',
  'RETRY_TIMED_OUT',
  'RETRY_FAILED_AND_TIMED_OUT',
] as const;
export type ProcessingStrategyType = (typeof PROCESSING_STRATEGY_TYPES)[number];

export interface SubmitStrategy {
  readonly type: SubmitStrategyType;
  /** BATCH: messages submitted together; the next batch goes when all of them are done. */
  readonly batchSize: number;
}

export interface ProcessingStrategy {
  readonly type: ProcessingStrategyType;
  /** Attempts after the first; 0 = unlimited. */
  readonly retries: number;
  /** Stop retrying when more than this percent of the pack failed or timed out; 0 = no limit. */
  readonly failurePercentage: number;
  /** Seconds before the first retry; doubles each retry up to maxPauseBetweenRetries. */
  readonly pauseBetweenRetries: number;
  readonly maxPauseBetweenRetries: number;
}

export interface QueueConfig {
  /** The name messages and nodes refer to (msg.queueName); also the BullMQ queue name. */
  readonly name: string;
  /** Kept for ThingsBoard compatibility; rpc-chains keys queues by name. */
  readonly topic: string;
  readonly partitions: number;
  /** ms an attempt on a pack may take; messages not done by then count as timed out. */
  readonly packProcessingTimeout: number;
  readonly submitStrategy: SubmitStrategy;
  readonly processingStrategy: ProcessingStrategy;
  /** Accepted from ThingsBoard exports, unused: BullMQ workers block instead of polling. */
  readonly pollInterval?: number;
  readonly consumerPerPartition?: boolean;
  readonly additionalInfo?: Record<string, unknown>;
}

// Also rules out ':' and braces, which would break the Redis key layout.
const NAME_PATTERN = '^[A-Za-z0-9_.-]{1,100}$';

const submitSchema: JSONSchemaType<SubmitStrategy> = {
  type: 'object',
  properties: {
    type: { type: 'string', enum: [...SUBMIT_STRATEGY_TYPES] },
    batchSize: { type: 'integer', minimum: 1, default: 1000 },
  },
  required: ['type', 'batchSize'],
  additionalProperties: false,
};

const processingSchema: JSONSchemaType<ProcessingStrategy> = {
  type: 'object',
  properties: {
    type: { type: 'string', enum: [...PROCESSING_STRATEGY_TYPES] },
    retries: { type: 'integer', minimum: 0, default: 3 },
    failurePercentage: { type: 'number', minimum: 0, maximum: 100, default: 0 },
    // Seconds, as in ThingsBoard; fractions are allowed (tests, fast retries).
    pauseBetweenRetries: { type: 'number', minimum: 0, default: 3 },
    maxPauseBetweenRetries: { type: 'number', minimum: 0, default: 3 },
  },
  required: ['type', 'retries', 'failurePercentage', 'pauseBetweenRetries', 'maxPauseBetweenRetries'],
  additionalProperties: false,
};

export const queueConfigSchema: JSONSchemaType<QueueConfig> = {
  type: 'object',
  properties: {
    name: { type: 'string', pattern: NAME_PATTERN },
    topic: { type: 'string', minLength: 1 },
    partitions: { type: 'integer', minimum: 1, maximum: 1000, default: 10 },
    packProcessingTimeout: { type: 'integer', minimum: 1, default: 2000 },
    submitStrategy: submitSchema,
    processingStrategy: processingSchema,
    pollInterval: { type: 'integer', nullable: true },
    consumerPerPartition: { type: 'boolean', nullable: true },
    additionalInfo: { type: 'object', nullable: true, required: [] },
  },
  required: ['name', 'topic', 'partitions', 'packProcessingTimeout', 'submitStrategy', 'processingStrategy'],
  // ThingsBoard's REST/export JSON carries ids, tenantId, createdTime...: ignore what we do not use.
  additionalProperties: true,
};

/** The three queues ThingsBoard creates (DefaultSystemDataLoaderService.createQueues). */
export const DEFAULT_QUEUES: readonly QueueConfig[] = deepFreeze([
  {
    name: 'Main',
    topic: 'tb_rule_engine.main',
    pollInterval: 25,
    partitions: 10,
    consumerPerPartition: true,
    packProcessingTimeout: 2000,
    submitStrategy: { type: 'BURST', batchSize: 1000 },
    processingStrategy: {
      type: 'SKIP_ALL_FAILURES',
      retries: 3,
      failurePercentage: 0,
      pauseBetweenRetries: 3,
      maxPauseBetweenRetries: 3,
    },
  },
  {
    name: 'HighPriority',
    topic: 'tb_rule_engine.hp',
    pollInterval: 25,
    partitions: 10,
    consumerPerPartition: true,
    packProcessingTimeout: 2000,
    submitStrategy: { type: 'BURST', batchSize: 100 },
    processingStrategy: {
      type: 'RETRY_FAILED_AND_TIMED_OUT',
      retries: 0,
      failurePercentage: 0,
      pauseBetweenRetries: 5,
      maxPauseBetweenRetries: 5,
    },
  },
  {
    name: 'SequentialByOriginator',
    topic: 'tb_rule_engine.sq',
    pollInterval: 25,
    partitions: 10,
    consumerPerPartition: true,
    packProcessingTimeout: 2000,
    submitStrategy: { type: 'SEQUENTIAL_BY_ORIGINATOR', batchSize: 100 },
    processingStrategy: {
      type: 'RETRY_FAILED_AND_TIMED_OUT',
      retries: 3,
      failurePercentage: 0,
      pauseBetweenRetries: 5,
      maxPauseBetweenRetries: 5,
    },
  },
]);

/** A queue definition that failed its check; each problem names the JSON pointer. */
export class QueueConfigError extends Error {
  override readonly name = 'QueueConfigError';
  constructor(readonly problems: readonly string[]) {
    super(`invalid queue configuration: ${problems.join('; ')}`);
  }
}

// Own instance: defaults are filled into a copy, and the shared one's options may change.
const validate = new Ajv({ allErrors: true, useDefaults: true, strict: false }).compile(queueConfigSchema);

/** Checks one queue definition (ThingsBoard JSON accepted), fills defaults, and freezes it. */
export function parseQueueConfig(value: unknown): QueueConfig {
  const copy: unknown = structuredClone(value);
  if (!validate(copy)) {
    throw new QueueConfigError(describeAjvErrors(validate.errors).map((p) => `${p.pointer || '/'} ${p.message}`));
  }
  const problems: string[] = [];
  const ps = copy.processingStrategy;
  if (ps.maxPauseBetweenRetries < ps.pauseBetweenRetries) {
    problems.push('/processingStrategy/maxPauseBetweenRetries must not be below pauseBetweenRetries');
  }
  if (problems.length > 0) throw new QueueConfigError(problems);
  return deepFreeze(copy);
}

/** Checks a list of queue definitions: each valid, names unique. */
export function parseQueueConfigs(values: readonly unknown[]): readonly QueueConfig[] {
  const out: QueueConfig[] = [];
  const problems: string[] = [];
  const seen = new Set<string>();
  values.forEach((value, i) => {
    const name = typeof value === 'object' && value !== null ? (value as { name?: unknown }).name : undefined;
    if (typeof name === 'string') {
      if (seen.has(name)) problems.push(`/${i}/name "${name}" is used twice`);
      seen.add(name);
    }
    try {
      out.push(parseQueueConfig(value));
    } catch (e) {
      if (!(e instanceof QueueConfigError)) throw e;
      problems.push(...e.problems.map((p) => `/${i}${p}`));
    }
  });
  if (problems.length > 0) throw new QueueConfigError(problems);
  return Object.freeze(out);
}

/** Queues whose submit strategy orders messages need one consumer per partition at a time. */
export function needsPartitionOwner(q: QueueConfig): boolean {
  const t = q.submitStrategy.type;
  return t === 'SEQUENTIAL_BY_ORIGINATOR' || t === 'SEQUENTIAL_BY_TENANT' || t === 'SEQUENTIAL';
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
