import { expect } from 'chai';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FAILURE, NodeConfigError, SUCCESS, type NodeOutput, type RuleNode } from '../../../src/engine/node-api.js';
import { prepareNodeConfig } from '../../../src/engine/importer/node-config.js';
import type { TbMsg } from '../../../src/msg/tb-msg.js';
import { TbRestApiCallNode } from '../../../src/nodes/external/TbRestApiCallNode.js';
import { createNode, relationsOf, runNode, testMsg } from '../../helpers/node-harness.js';

interface Received {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

describe('TbRestApiCallNode', () => {
  let server: Server;
  let base: string;
  const received: Received[] = [];
  const routes = new Map<string, Handler>();
  const nodes: RuleNode[] = [];

  before(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
        const path = (req.url ?? '').split('?')[0];
        const handler = routes.get(decodeURIComponent(path)) ?? ((_q, r) => r.writeHead(200, { 'Content-Type': 'application/json' }).end('{"ok":true}'));
        handler(req, res, body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  beforeEach(() => {
    received.length = 0;
    routes.clear();
  });
  afterEach(async () => {
    for (const n of nodes.splice(0)) await n.destroy?.();
  });

  const restCall = (config: Record<string, unknown>) => {
    const { node } = createNode(TbRestApiCallNode, { ...TbRestApiCallNode.defaultConfig, ...config });
    nodes.push(node);
    return node;
  };
  const single = (outputs: NodeOutput[]): { msg: TbMsg; error?: string } => {
    expect(outputs).to.have.length(1);
    const [out] = outputs;
    if (out.kind !== 'tell') throw new Error('expected a tell output');
    return { msg: out.msg, error: out.error };
  };

  it('has the identity of ThingsBoard 4.x and its default configuration', () => {
    expect(TbRestApiCallNode.type).to.equal('org.thingsboard.rule.engine.rest.TbRestApiCallNode');
    expect(TbRestApiCallNode.category).to.equal('EXTERNAL');
    expect(TbRestApiCallNode.uiName).to.equal('rest api call');
    expect(TbRestApiCallNode.version).to.equal(4);
    expect(TbRestApiCallNode.relations).to.deep.equal([SUCCESS, FAILURE]);
    expect(TbRestApiCallNode.defaultConfig).to.deep.equal({
      restEndpointUrlPattern: 'http://localhost/api',
      requestMethod: 'POST',
      queryParams: [],
      headers: { 'Content-Type': 'application/json' },
      readTimeoutMs: 0,
      maxParallelRequestsCount: 0,
      parseToPlainText: false,
      enableProxy: false,
      useSystemProxyProperties: false,
      proxyPort: 0,
      credentials: { type: 'anonymous' },
      ignoreRequestBody: false,
      maxInMemoryBufferSizeInKb: 256,
    });
  });

  it('POSTs the data to the URL made from patterns; a 2xx answer becomes the data, with status and headers in metadata', async () => {
    routes.set('/devices/Thermostat/25', (_req, res) => {
      res.setHeader('Content-Type', 'application/json');
      res.setHeader('X-Trace-Id', 'abc-1');
      res.writeHead(201).end('{"accepted":true}');
    });
    const node = restCall({
      restEndpointUrlPattern: `${base}/devices/\${deviceName}/$[temperature]`,
      headers: { 'Content-Type': 'application/json', 'X-Device': '${deviceName}' },
    });
    const msg = testMsg({ data: { temperature: 25 } });
    const result = await runNode(node, msg);
    expect(relationsOf(result)).to.deep.equal([SUCCESS]);
    const { msg: out } = single(result.outputs);
    expect(out.id).to.equal(msg.id);
    expect(out.data).to.equal('{"accepted":true}');
    expect(out.metaData).to.include({ deviceName: 'Thermostat', status: 'CREATED', statusCode: '201', statusReason: 'Created', 'X-Trace-Id': 'abc-1' });
    expect(out.metaData['Content-Type']).to.equal('application/json');
    expect(received).to.have.length(1);
    expect(received[0]).to.include({ method: 'POST', url: '/devices/Thermostat/25', body: '{"temperature":25}' });
    expect(received[0].headers).to.include({ 'content-type': 'application/json', 'x-device': 'Thermostat' });
  });

  it('sends no body with GET; an empty 2xx body becomes {}', async () => {
    routes.set('/empty', (_req, res) => res.writeHead(204).end());
    const result = await runNode(restCall({ restEndpointUrlPattern: `${base}/empty`, requestMethod: 'GET' }), testMsg());
    const { msg } = single(result.outputs);
    expect(relationsOf(result)).to.deep.equal([SUCCESS]);
    expect(msg.data).to.equal('{}');
    expect(msg.metaData).to.include({ status: 'NO_CONTENT', statusCode: '204', statusReason: 'No Content' });
    expect(received[0]).to.include({ method: 'GET', body: '' });
    expect(received[0].headers['content-length']).to.equal(undefined);
  });

  it('adds query parameters encoded once; without the list the URL is taken as written', async () => {
    await runNode(
      restCall({ restEndpointUrlPattern: `${base}/q?a=1`, queryParams: [{ key: 'email', value: '${mail}' }, { key: 'n', value: '$[temperature]' }] }),
      testMsg({ metaData: { mail: 'user+tag@test.com' } }),
    );
    expect(received[0].url).to.equal('/q?a=1&email=user%2Btag%40test.com&n=25');

    const legacy = { ...TbRestApiCallNode.defaultConfig, restEndpointUrlPattern: `${base}/my device` } as Record<string, unknown>;
    delete legacy.queryParams;
    const { node } = createNode(TbRestApiCallNode, legacy);
    nodes.push(node);
    expect(relationsOf(await runNode(node, testMsg()))).to.deep.equal([SUCCESS]);
    expect(received[1].url).to.equal('/my%20device');

    const strict = await runNode(restCall({ restEndpointUrlPattern: `${base}/my device` }), testMsg());
    expect(single(strict.outputs).error).to.match(/^Invalid request URL: '.*\/my device'\. The URL must be valid and properly encoded\./);
  });

  it('sends a 4xx/5xx answer to Failure with status, statusCode, error_body and the error', async () => {
    routes.set('/missing', (_req, res) => res.writeHead(404, { 'Content-Type': 'text/plain' }).end('no such thing'));
    const msg = testMsg();
    const result = await runNode(restCall({ restEndpointUrlPattern: `${base}/missing` }), msg);
    expect(relationsOf(result)).to.deep.equal([FAILURE]);
    const { msg: out, error } = single(result.outputs);
    expect(error).to.equal(`404 Not Found from POST ${base}/missing`);
    expect(out.data).to.equal(msg.data);
    expect(out.metaData).to.include({ status: 'Not Found', statusCode: '404', error_body: 'no such thing' });
    expect(out.metaData['Content-Type']).to.equal(undefined);
  });

  it('does not follow a redirect: Failure with the response metadata and no error', async () => {
    routes.set('/old', (_req, res) => res.writeHead(302, { Location: '/new' }).end());
    const result = await runNode(restCall({ restEndpointUrlPattern: `${base}/old` }), testMsg());
    expect(relationsOf(result)).to.deep.equal([FAILURE]);
    const { msg, error } = single(result.outputs);
    expect(error).to.equal(undefined);
    expect(msg.metaData).to.include({ status: 'FOUND', statusCode: '302', statusReason: 'Found', Location: '/new' });
    expect(received).to.have.length(1);
  });

  it('sends basic credentials', async () => {
    await runNode(restCall({ restEndpointUrlPattern: `${base}/auth`, credentials: { type: 'basic', username: 'alice', password: 's3cret' } }), testMsg());
    expect(received[0].headers.authorization).to.equal(`Basic ${Buffer.from('alice:s3cret').toString('base64')}`);
  });

  it('sends text as it is with parseToPlainText, unquoting a JSON string', async () => {
    await runNode(restCall({ restEndpointUrlPattern: `${base}/text`, headers: {}, parseToPlainText: true }), testMsg({ data: '"hello"' }));
    expect(received[0].body).to.equal('hello');
    expect(received[0].headers['content-type']).to.equal('text/plain;charset=UTF-8');
  });

  it('fills requestBodyTemplate, escaping values for JSON', async () => {
    const node = restCall({ restEndpointUrlPattern: `${base}/tpl`, requestBodyTemplate: '{"name": "${deviceName}", "t": $[temperature]}' });
    const result = await runNode(node, testMsg({ metaData: { deviceName: 'A "quoted" one' } }));
    expect(relationsOf(result)).to.deep.equal([SUCCESS]);
    expect(JSON.parse(received[0].body)).to.deep.equal({ name: 'A "quoted" one', t: 25 });

    const bad = await runNode(restCall({ restEndpointUrlPattern: `${base}/tpl`, requestBodyTemplate: '{"t": ${nothing}}' }), testMsg());
    expect(single(bad.outputs).error).to.equal('Request body template produced invalid JSON: {"t": ${nothing}}');
  });

  it('fails data that is not JSON unless it is sent as text', async () => {
    const result = await runNode(restCall({ restEndpointUrlPattern: `${base}/x` }), testMsg({ data: 'not json' }));
    expect(relationsOf(result)).to.deep.equal([FAILURE]);
    expect(received).to.have.length(0);
  });

  it('fails when no data comes within readTimeoutMs', async () => {
    routes.set('/slow', () => undefined);
    const result = await runNode(restCall({ restEndpointUrlPattern: `${base}/slow`, readTimeoutMs: 100 }), testMsg());
    expect(relationsOf(result)).to.deep.equal([FAILURE]);
    expect(single(result.outputs).error).to.match(/ReadTimeout/);
  });

  it('fails when the server cannot be reached, or answers more than maxInMemoryBufferSizeInKb', async () => {
    const refused = await runNode(restCall({ restEndpointUrlPattern: 'http://127.0.0.1:1/api' }), testMsg());
    expect(single(refused.outputs).error).to.match(/ECONNREFUSED/);
    routes.set('/big', (_req, res) => res.writeHead(200).end('x'.repeat(2048)));
    const big = await runNode(restCall({ restEndpointUrlPattern: `${base}/big`, maxInMemoryBufferSizeInKb: 1 }), testMsg());
    expect(single(big.outputs).error).to.equal('Exceeded limit on max bytes to buffer : 1024');
  });

  it('keeps at most maxParallelRequestsCount requests in flight', async () => {
    let inFlight = 0;
    let most = 0;
    routes.set('/busy', (_req, res) => {
      inFlight++;
      most = Math.max(most, inFlight);
      setTimeout(() => {
        inFlight--;
        res.writeHead(200).end('{}');
      }, 30);
    });
    const node = restCall({ restEndpointUrlPattern: `${base}/busy`, maxParallelRequestsCount: 2 });
    const results = await Promise.all([1, 2, 3, 4, 5].map(() => runNode(node, testMsg())));
    expect(results.map(relationsOf).flat()).to.deep.equal([SUCCESS, SUCCESS, SUCCESS, SUCCESS, SUCCESS]);
    expect(most).to.equal(2);
  });

  it('refuses what it does not support yet: proxies and client certificates', () => {
    expect(() => restCall({ enableProxy: true })).to.throw(NodeConfigError, /proxies/);
    expect(() => restCall({ credentials: { type: 'cert.PEM' } })).to.throw(NodeConfigError, /cert\.PEM/);
  });

  it('upgrades a version 0 configuration to version 4', () => {
    const v0 = {
      restEndpointUrlPattern: 'http://localhost/api',
      requestMethod: 'POST',
      headers: {},
      readTimeoutMs: 0,
      maxParallelRequestsCount: 0,
      trimDoubleQuotes: true,
      useRedisQueueForMsgPersistence: false,
      trimQueue: false,
      maxQueueSize: 0,
      useSimpleClientHttpFactory: false,
      enableProxy: false,
      credentials: { type: 'anonymous' },
    };
    const prepared = prepareNodeConfig(TbRestApiCallNode, v0, 0);
    if (!prepared.ok) throw new Error(JSON.stringify(prepared.problems));
    expect(prepared.config).to.deep.equal({
      restEndpointUrlPattern: 'http://localhost/api',
      requestMethod: 'POST',
      headers: {},
      readTimeoutMs: 0,
      maxParallelRequestsCount: 0,
      parseToPlainText: true,
      enableProxy: false,
      useSystemProxyProperties: false,
      credentials: { type: 'anonymous' },
      ignoreRequestBody: false,
      maxInMemoryBufferSizeInKb: 256,
    });
  });
});
