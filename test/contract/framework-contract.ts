import { expect } from 'chai';
import { TokenStore } from '../../lib/index.js';
import { closeAll, testStore, track } from '../helpers/index.js';

/** An example app listening on a loopback port, built on the store it was given. */
export interface RunningApp {
  url: string;
  close(): Promise<void>;
}

/**
 * What every framework example promises, over real HTTP and the test Redis: POST /login,
 * GET /me, GET /devices, DELETE /devices/:id and POST /logout.
 */
export function frameworkContract(name: string, start: (store: TokenStore) => Promise<RunningApp>) {
  describe(`the ${name} example`, function () {
    this.timeout(30_000);
    let store: TokenStore;
    let app: RunningApp;

    async function login(device: string): Promise<{ token: string; id: string }> {
      const res = await fetch(`${app.url}/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'alice', password: 'wonderland', device }),
      });
      expect(res.status).to.be.oneOf([200, 201]);
      return (await res.json()) as { token: string; id: string };
    }

    async function call(path: string, token?: string, method = 'GET') {
      const res = await fetch(`${app.url}${path}`, {
        method,
        headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
      });
      const json = res.headers.get('content-type')?.includes('json');
      return { status: res.status, body: json ? await res.json() : await res.text() };
    }

    beforeEach(async () => {
      store = testStore({ ttl: 3600 });
      app = track(await start(store));
    });

    afterEach(closeAll);

    it('logs in on two devices and answers /me for each token', async () => {
      const phone = await login('phone');
      const laptop = await login('laptop');

      for (const session of [phone, laptop]) {
        const me = await call('/me', session.token);
        expect(me.status).to.equal(200);
        expect(me.body).to.deep.equal({
          user: { id: 'alice', name: 'Alice' },
          tokenId: session.id,
        });
      }
    });

    it('refuses a wrong password, a missing token and an unknown one with 401', async () => {
      const res = await fetch(`${app.url}/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'alice', password: 'guess' }),
      });
      expect(res.status).to.equal(401);
      await res.arrayBuffer();
      expect((await call('/me')).status).to.equal(401);
      const { token } = await login('phone');
      expect((await call('/me', `${token.slice(0, -1)}x`)).status).to.equal(401);
      expect((await call('/me', 'an-unknown-legacy-token')).status).to.equal(401);
    });

    it('lists the devices, revokes one by id and logs the current one out', async () => {
      const phone = await login('phone');
      const laptop = await login('laptop');
      const tablet = await login('tablet');

      const devices = await call('/devices', phone.token);
      expect(devices.body).to.have.deep.members([
        { id: phone.id, device: 'phone', current: true },
        { id: laptop.id, device: 'laptop', current: false },
        { id: tablet.id, device: 'tablet', current: false },
      ]);

      expect((await call(`/devices/${tablet.id}`, phone.token, 'DELETE')).status).to.equal(204);
      expect((await call('/me', tablet.token)).status).to.equal(401);
      expect((await call('/logout', phone.token, 'POST')).status).to.equal(204);
      expect((await call('/me', phone.token)).status).to.equal(401);
      expect((await call('/me', laptop.token)).status).to.equal(200);
    });

    it('answers 503, never 200 or 401, when Redis does not answer', async () => {
      const { token } = await login('phone');
      const down = track(new TokenStore({ redis: 'redis://127.0.0.1:1', timeout: 300 }));
      const cut = track(await start(down));
      const res = await fetch(`${cut.url}/me`, { headers: { authorization: `Bearer ${token}` } });
      await res.arrayBuffer();
      expect(res.status).to.equal(503);
    });
  });
}
