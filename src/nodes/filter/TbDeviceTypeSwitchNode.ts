import { defineNode, FAILURE, requireStore, tell, tellFailure } from '../../engine/node-api.js';
import { tenantOf } from '../action/TbMsgTimeseriesNode.js';

/**
 * ThingsBoard's "device profile switch": routes a device's message on the name of its device
 * profile ("default", "thermostat", ...), so one chain can branch per kind of device. Other
 * originators and unknown devices go to Failure with ThingsBoard's texts.
 */
export const TbDeviceTypeSwitchNode = defineNode<{ version?: number }>({
  type: 'org.thingsboard.rule.engine.filter.TbDeviceTypeSwitchNode',
  category: 'FILTER',
  uiName: 'device profile switch',
  version: 0,
  relations: [FAILURE],
  customRelations: true,
  configSchema: { type: 'object', properties: { version: { type: 'integer', default: 0 } } },
  defaultConfig: { version: 0 },
  create(_config, init) {
    const store = requireStore(init);
    return {
      async onMsg(msg) {
        const originator = msg.originator;
        if (originator.entityType !== 'DEVICE') {
          return tellFailure(msg, `Unsupported originator type: ${originator.entityType}! Only 'DEVICE' type is allowed.`);
        }
        try {
          const tenantId = tenantOf(msg);
          const device = await store.devices.findById(tenantId, originator.id);
          // A device without a profile id is typed by its profile name already (Device.type).
          const profile = device?.deviceProfileId ? await store.deviceProfiles.get(tenantId, device.deviceProfileId.id) : null;
          const name = profile?.name ?? device?.type;
          if (!name) return tellFailure(msg, `Device profile for entity id: ${originator.id} wasn't found!`);
          return tell(msg, name);
        } catch (e) {
          return tellFailure(msg, e);
        }
      },
    };
  },
});
