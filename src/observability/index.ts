// Health, readiness and Prometheus metrics for operators.
export { Metrics, withTimeout, type MetricsOptions, type MsgAttemptOutcome, type SessionCounts } from './metrics.js';
export {
  healthApiPlugin,
  healthPlugin,
  Readiness,
  startHealthServer,
  type CheckResult,
  type HealthPluginOptions,
  type HealthServer,
  type ReadinessCheck,
  type ReadinessOptions,
  type ReadinessReport,
} from './health.js';
