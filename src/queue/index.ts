// The rule-engine queues (BullMQ) and the service bus: what the rest of rpc-chains uses.
export { RuleEngineConsumer, type ConsumerStats, type QueueLogger, type RuleEngineConsumerOptions } from './consumer.js';
export { chainHandler, type MsgHandler, type MsgHandlerContext, type PackSummary } from './pack.js';
export { QueueProducerError, RuleEngineProducer, type RuleEngineProducerOptions } from './producer.js';
export {
  DEFAULT_QUEUES,
  parseQueueConfig,
  parseQueueConfigs,
  QueueConfigError,
  type ProcessingStrategy,
  type ProcessingStrategyType,
  type QueueConfig,
  type SubmitStrategy,
  type SubmitStrategyType,
} from './queue-config.js';
export { ServiceBus, type BusEnvelope, type BusHandler, type ServiceBusOptions } from './service-bus.js';
