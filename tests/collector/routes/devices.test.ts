// The device inventory and sensor list against the collector as a real
// process, on SQLite and on a real PostgreSQL server.
import { describe, expect, it } from 'vitest';
import { api, SENSOR_TOKEN } from '../../helpers/collector.js';
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
