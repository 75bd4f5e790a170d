import { defineNode, FAILURE, requireStore, SUCCESS } from '../../engine/node-api.js';
import {
  attributesOnMsg,
  defaultGetAttributesConfig,
  GET_ATTRIBUTES_PROPERTIES,
  upgradeFetchToData,
  type GetAttributesConfig,
} from './attribute-fetch.js';

export type TbGetAttributesNodeConfig = GetAttributesConfig;

/**
 * Adds the originator's client/shared/server attributes (metadata keys cs_/shared_/ss_) and
 * latest time series (no prefix) to the message metadata, or to its data (fetchTo DATA, which
 * needs a JSON object body). Missing keys with tellFailureIfAbsent: Failure, enriched anyway.
 */
export const TbGetAttributesNode = defineNode<TbGetAttributesNodeConfig>({
  type: 'org.thingsboard.rule.engine.metadata.TbGetAttributesNode',
  category: 'ENRICHMENT',
  uiName: 'originator attributes',
  version: 1,
  relations: [SUCCESS, FAILURE],
  configSchema: { type: 'object', properties: GET_ATTRIBUTES_PROPERTIES },
  defaultConfig: defaultGetAttributesConfig(),
  upgrade: upgradeFetchToData,
  create(config, init) {
    const store = requireStore(init);
    return { onMsg: attributesOnMsg(store, config, (_tenantId, msg) => Promise.resolve(msg.originator)) };
  },
});
