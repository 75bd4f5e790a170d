/**
 * ThingsBoard node types that rpc-chains knows of but does not run (yet). The importer
 * names them in its error so that a user knows whether to wait, or to change the chain.
 */
export type UnsupportedReason = 'not supported yet' | 'ThingsBoard PE only' | 'edge only' | 'not supported';

const P = 'org.thingsboard.rule.engine.';

/** Nodes not built yet: rpc-chains keeps no assets. */
const PLANNED = [
  'filter.TbAssetTypeSwitchNode',
];

const PE_ONLY = ['transform.TbDuplicateMsgToGroupNode', 'integration.TbIntegrationDownlinkNode'];

const EDGE_ONLY = ['edge.TbMsgPushToCloudNode'];

/** ThingsBoard CE nodes outside rpc-chains' scope (Cassandra, cloud services, e-mail, ...). */
const OUT_OF_SCOPE = [
  'edge.TbMsgPushToEdgeNode',
  'action.TbSaveToCustomCassandraTableNode',
  'telemetry.TbCalculatedFieldsNode',
  'kafka.TbKafkaNode',
  'rabbitmq.TbRabbitMqNode',
  'aws.sns.TbSnsNode',
  'aws.sqs.TbSqsNode',
  'aws.lambda.TbAwsLambdaNode',
  'gcp.pubsub.TbPubSubNode',
  'azure.TbAzureIotHubNode',
  'mail.TbMsgToEmailNode',
  'mail.TbSendEmailNode',
  'sms.TbSendSmsNode',
  'notification.TbNotificationNode',
  'notification.TbSlackNode',
  'geo.TbGpsGeofencingFilterNode',
  'geo.TbGpsGeofencingActionNode',
  'math.TbMathNode',
  'ai.TbAiNode',
];

const reasons = new Map<string, UnsupportedReason>([
  ...PLANNED.map((t) => [P + t, 'not supported yet'] as const),
  ...PE_ONLY.map((t) => [P + t, 'ThingsBoard PE only'] as const),
  ...EDGE_ONLY.map((t) => [P + t, 'edge only'] as const),
  ...OUT_OF_SCOPE.map((t) => [P + t, 'not supported'] as const),
]);

export function unsupportedReason(type: string): UnsupportedReason | undefined {
  return reasons.get(type);
}
