import { expect } from 'chai';
import { hashTagOf, keyPart, StoreKeys } from '../../../src/store/keys.js';

describe('store: key builder', () => {
  const keys = new StoreKeys();
  const dev = { entityType: 'DEVICE' as const, id: 'a1' };

  it('puts tenant catalogue, entity data and global indexes under their tags', () => {
    expect(keys.device('t1', 'd1')).to.equal('rc:{t:t1}:device:d1');
    expect(keys.relationsFrom('t1', 'COMMON', dev)).to.equal('rc:{t:t1}:rel:COMMON:from:DEVICE:a1');
    expect(keys.attributes(dev, 'SERVER_SCOPE')).to.equal('rc:{DEVICE:a1}:attr:SERVER_SCOPE');
    expect(keys.token('abc')).to.equal('rc:{tok:abc}');
    expect(keys.email('A@B.test')).to.equal('rc:{email:a@b.test}');
    expect(keys.tenants()).to.equal('rc:{g}:tenants');
    expect(new StoreKeys('app1').tenant('x')).to.equal('app1:{g}:tenant:x');
  });

  it('escapes dynamic parts so input cannot change the tag or forge a key', () => {
    expect(keyPart('a{b}:c%')).to.equal('a%7Bb%7D%3Ac%25');
    expect(hashTagOf(keys.token('x}evil{y'))).to.equal('tok:x%7Devil%7By');
    expect(hashTagOf(keys.device('t}:device:', 'd'))).to.equal('t:t%7D%3Adevice%3A');
    expect(keys.timeseries(dev, 'a:b')).to.equal('rc:{DEVICE:a1}:ts:h:a%3Ab');
    expect(keys.timeseries(dev, 'a:b')).not.to.equal(keys.timeseries(dev, 'a%3Ab'));
  });

  it('refuses a prefix that would change the tag', () => {
    expect(() => new StoreKeys('a{b}')).to.throw(/prefix/);
    expect(() => new StoreKeys('a:b')).to.throw(/prefix/);
  });
});
