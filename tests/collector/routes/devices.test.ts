// The device inventory and sensor list against the collector as a real
// process, on SQLite and on a real PostgreSQL server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, SENSOR_TOKEN, startCollector, type RunningCollector } from '../../helpers/collector.js';
import { batch } from '../../helpers/events.js';
import { backends, events, useBackends, useLoadedCollector } from './backends.js';

useBackends();

describe.each(backends)('devices API on %s', (_name, dbUrl) => {
  const c = useLoadedCollector(dbUrl);

  it('serves devices and sensors', async () => {
    const devices = (await (await api(c.url, '/api/v1/devices')).json()).items;
    expect(devices.map((d: { mac: string }) => d.mac).sort()).toEqual(events.devices.map((d) => d.mac).sort());
    const plug = await (await api(c.url, '/api/v1/devices/50:C7:BF:00:C7:03')).json();
    expect(plug.vendor_country).toBe('CN');
    expect(plug.countries.length).toBeGreaterThan(0);
    const sensors = (await (await api(c.url, '/api/v1/sensors')).json()).items;
    expect(sensors).toMatchObject([{ name: 'lab', version: 'test', lag_s: 0.5 }]);
  });

  it('an unknown device is 404, named as asked; the API token is required', async () => {
    const r = await api(c.url, '/api/v1/devices/AA:BB:CC:00:00:01');
    expect(r.status).toBe(404);
    expect((await r.json()).message).toBe('no device AA:BB:CC:00:00:01');
    expect((await api(c.url, '/api/v1/devices', { token: SENSOR_TOKEN })).status).toBe(401);
    expect((await api(c.url, '/api/v1/sensors', { token: SENSOR_TOKEN })).status).toBe(401);
  });
});

describe.each(backends)('devices seen by two sensors on %s', (_name, dbUrl) => {
  const OTHER = 'other-sensor-secret-0123456789';
  let c: RunningCollector;
  beforeAll(async () => {
    c = await startCollector(dbUrl(), ['--sensor-token', `other:${OTHER}`]);
  }, 60_000);
  afterAll(async () => {
    expect(await c.stop()).toBe(0);
  });

  it("appear once per sensor, each with its sensor; one sensor's report never overwrites the other's", async () => {
    const plug = events.devices.find((d) => d.mac === '50:c7:bf:00:c7:03')!;
    const send = (token: string, data: object, key: string) => api(c.url, '/api/v1/events', { method: 'POST', token, body: JSON.stringify(batch([{ kind: 'device', key, data } as never])) });
    expect((await send(SENSOR_TOKEN, plug, 'd1')).status).toBe(200);
    const forged = { ...plug, last_seen: plug.last_seen + 1000, hostnames: ['forged'], vendor_country: 'XX' };
    expect((await send(OTHER, forged, 'd1')).status).toBe(200);
    const items = (await (await api(c.url, '/api/v1/devices')).json()).items.filter((d: { mac: string }) => d.mac === plug.mac);
    expect(items.map((d: { sensor: string; hostnames: string[] }) => [d.sensor, d.hostnames])).toEqual([['lab', plug.hostnames], ['other', ['forged']]]);
    // One device by MAC is the view of the sensor that saw it last.
    expect(await (await api(c.url, `/api/v1/devices/${plug.mac}`)).json()).toMatchObject({ sensor: 'other', hostnames: ['forged'] });
  });
});
