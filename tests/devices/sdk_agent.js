// Drives the unmodified Azure IoT SDKs for Node.js for tests/integration/test_devices_sdk.py:
// one JSON command per stdin line ({"seq", "op", ...}), one JSON line per answer on stdout
// ({"seq", "ok", "result"} or {"seq", "ok": false, "error": {name, message, statusCode}}), and
// {"event": ...} lines for what devices receive (C2D messages, desired patches, method calls).
// The SDKs are used only through their public API, as an application would.
'use strict';

const fs = require('fs');
const readline = require('readline');
const { Client: DeviceClient, Message, SharedAccessSignature } = require('azure-iot-device');
const { Mqtt } = require('azure-iot-device-mqtt');
const { Registry, Client: ServiceClient } = require('azure-iothub');

let registry = null;
let service = null;
const devices = new Map(); // name -> { client, twin }

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

function describe(err) {
  return {
    name: err && err.constructor ? err.constructor.name : 'Error',
    message: String(err && err.message),
    statusCode: err && err.response ? err.response.statusCode : undefined,
    responseBody: err && err.responseBody !== undefined ? String(err.responseBody) : undefined,
  };
}

function plainDevice(d) {
  return JSON.parse(JSON.stringify(d));
}

function plainTwin(t) {
  return { deviceId: t.deviceId, etag: t.etag, tags: t.tags, properties: JSON.parse(JSON.stringify(t.properties)) };
}

function device(name) {
  const d = devices.get(name);
  if (!d) throw new Error('no device client named ' + name);
  return d;
}

async function openDevice(cmd) {
  const client = cmd.sas
    ? DeviceClient.fromSharedAccessSignature(cmd.sas, Mqtt)
    : DeviceClient.fromConnectionString(cmd.connectionString, Mqtt);
  // X.509 ("x509=true" in the connection string): the certificate and key the device presents.
  if (cmd.certFile) {
    await client.setOptions({ cert: fs.readFileSync(cmd.certFile, 'utf8'), key: fs.readFileSync(cmd.keyFile, 'utf8') });
  }
  const name = cmd.name;
  client.on('message', (msg) => {
    const properties = {};
    for (const p of msg.properties.propertyList) properties[p.key] = p.value;
    emit({
      event: 'c2d',
      name,
      data: msg.data.toString('utf8'),
      properties,
      messageId: msg.messageId,
      correlationId: msg.correlationId,
    });
    client.complete(msg, () => {});
  });
  client.on('disconnect', () => emit({ event: 'disconnect', name }));
  client.on('error', (err) => emit({ event: 'error', name, error: describe(err) }));
  try {
    await client.open();
  } catch (err) {
    await client.close().catch(() => {});
    throw err;
  }
  devices.set(name, { client, twin: null });
  return { opened: name };
}

const ops = {
  async serviceConnect(cmd) {
    registry = Registry.fromConnectionString(cmd.connectionString);
    service = ServiceClient.fromConnectionString(cmd.connectionString);
    return {};
  },
  async create(cmd) {
    return plainDevice((await registry.create(cmd.device)).responseBody);
  },
  async getDevice(cmd) {
    return plainDevice((await registry.get(cmd.deviceId)).responseBody);
  },
  async updateDevice(cmd) {
    return plainDevice((await registry.update(cmd.device)).responseBody);
  },
  async listDevices() {
    return (await registry.list()).responseBody.map(plainDevice);
  },
  async deleteDevice(cmd) {
    await registry.delete(cmd.deviceId);
    return {};
  },
  async queryTwins() {
    const q = registry.createQuery('SELECT * FROM devices', 100);
    const page = await q.nextAsTwin();
    return { twins: page.result.map(plainTwin), hasMoreResults: q.hasMoreResults };
  },
  async serviceGetTwin(cmd) {
    return plainTwin((await registry.getTwin(cmd.deviceId)).responseBody);
  },
  async serviceUpdateTwin(cmd) {
    const twin = (await registry.getTwin(cmd.deviceId)).responseBody;
    const etag = cmd.etag || twin.etag;
    return plainTwin((await registry.updateTwin(cmd.deviceId, cmd.patch, etag)).responseBody);
  },
  async invoke(cmd) {
    const params = { methodName: cmd.methodName, payload: cmd.payload };
    if (cmd.responseTimeoutInSeconds) params.responseTimeoutInSeconds = cmd.responseTimeoutInSeconds;
    const r = await service.invokeDeviceMethod(cmd.deviceId, params);
    return r.result;
  },
  async sasToken(cmd) {
    return { sas: SharedAccessSignature.create(cmd.host, cmd.deviceId, cmd.key, cmd.expiry).toString() };
  },
  async open(cmd) {
    return openDevice(cmd);
  },
  async close(cmd) {
    const d = device(cmd.name);
    devices.delete(cmd.name);
    await d.client.close();
    return {};
  },
  async sendEvent(cmd) {
    const m = new Message(cmd.data);
    if (cmd.messageId) m.messageId = cmd.messageId;
    for (const [k, v] of Object.entries(cmd.properties || {})) m.properties.add(k, v);
    await device(cmd.name).client.sendEvent(m);
    return {};
  },
  async getTwin(cmd) {
    const d = device(cmd.name);
    if (!d.twin) {
      d.twin = await d.client.getTwin();
      d.twin.on('properties.desired', (patch) => emit({ event: 'desired', name: cmd.name, patch }));
    } else {
      await new Promise((resolve, reject) => d.twin.get((err) => (err ? reject(err) : resolve())));
    }
    return JSON.parse(JSON.stringify(d.twin.properties));
  },
  async report(cmd) {
    const d = device(cmd.name);
    if (!d.twin) throw new Error('getTwin first');
    await new Promise((resolve, reject) =>
      d.twin.properties.reported.update(cmd.patch, (err) => (err ? reject(err) : resolve())));
    return {};
  },
  // Registers a method handler: answers {status, payload} unless `silent` (the timeout test).
  async onMethod(cmd) {
    const name = cmd.name;
    device(name).client.onDeviceMethod(cmd.method, (request, response) => {
      emit({ event: 'method', name, method: request.methodName, payload: request.payload });
      if (cmd.silent) return;
      response.send(cmd.status, cmd.payload, (err) => {
        if (err) emit({ event: 'error', name, error: describe(err) });
      });
    });
    return {};
  },
};

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
  let cmd;
  try {
    cmd = JSON.parse(line);
  } catch (err) {
    emit({ seq: null, ok: false, error: describe(err) });
    return;
  }
  const op = ops[cmd.op];
  if (!op) {
    emit({ seq: cmd.seq, ok: false, error: { name: 'Error', message: 'unknown op ' + cmd.op } });
    return;
  }
  op(cmd).then(
    (result) => emit({ seq: cmd.seq, ok: true, result }),
    (err) => emit({ seq: cmd.seq, ok: false, error: describe(err) }),
  );
});
rl.on('close', async () => {
  for (const d of devices.values()) await d.client.close().catch(() => {});
  process.exit(0);
});
emit({ event: 'ready' });
