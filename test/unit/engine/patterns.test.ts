import { expect } from 'chai';
import { processPattern, processPatterns } from '../../../src/engine/patterns.js';
import { testMsg } from '../../helpers/node-harness.js';

describe('processPattern (ThingsBoard TbNodeUtils.processPattern)', () => {
  const msg = testMsg({ data: { temperature: 21.5, nested: { name: 'kitchen', on: true }, list: [1] }, metaData: { deviceName: 'T-1', ts: '5' } });

  it('takes ${key} from metadata and $[path] from data', () => {
    expect(processPattern('${deviceName}/$[nested.name]/$[temperature]/$[nested.on]', msg)).to.equal('T-1/kitchen/21.5/true');
  });

  it('leaves unresolved placeholders and non-value nodes as they are', () => {
    expect(processPattern('${missing}-$[nested]-$[list]-$[a.b.c]', msg)).to.equal('${missing}-$[nested]-$[list]-$[a.b.c]');
  });

  it('gives the whole metadata or data for * ', () => {
    expect(JSON.parse(processPattern('${*}', msg))).to.deep.equal({ deviceName: 'T-1', ts: '5' });
    expect(processPattern('$[*]', msg)).to.equal(msg.data);
  });

  it('works on data that is not JSON', () => {
    expect(processPattern('$[x] ${deviceName}', testMsg({ data: 'plain text', metaData: { deviceName: 'd' } }))).to.equal('$[x] d');
  });

  it('processes a list', () => {
    expect(processPatterns(['a', '${deviceName}'], msg)).to.deep.equal(['a', 'T-1']);
  });
});
