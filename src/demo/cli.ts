/** `npm run demo` (see demo.ts). */
import { DEMO_PASSWORD, startDemo } from './demo.js';

async function main() {
  const port = Number(process.env.DEMO_PORT ?? 3000);
  const demo = await startDemo({
    port,
    logLevel: process.env.LOG_LEVEL ?? 'warn',
    redisUrl: process.env.REDIS_URL,
  });
  const line = (s = '') => process.stdout.write(`${s}\n`);
  line();
  line(`  KooGallery relay demo is running (store: ${process.env.REDIS_URL ? 'Redis' : 'embedded'})`);
  line();
  line(`  Open the sample seller app:   ${demo.url}/`);
  line(`  Its workspaces (change feed): ${demo.url}/workspaces`);
  line(
    `  Sandbox unified login:        ${demo.sandbox.url}/unified-login/#/portal-login?ind=UNOP&appId=${demo.appId}`,
  );
  line(
    `  Workbench launch (no login):  ${demo.sandbox.url}/workbench/launch?appId=${demo.appId}&user=zhangsan`,
  );
  line();
  line(`  Sign in with (password ${DEMO_PASSWORD} for all):`);
  line(`    zhangsan  张三      admin     华为示例科技有限公司 / 总部`);
  line(`    lisi      李四      user      华为示例科技有限公司 / 研发中心 / 平台组`);
  line(`    wangwu    王五      disabled  (sign-in is refused: the user is disabled)`);
  line(`    tester    调测账号  admin     卖家调测租户 (testFlag 1 debug tenant)`);
  line(`    zhaoliu   赵六      admin     过期示例贸易有限公司 (refused: its subscription is frozen)`);
  line();
  line(`  Relay seller API (private):   ${demo.relayApiUrl}/api/v1   Authorization: Bearer ${demo.apiKey}`);
  line(
    `  Try: curl -s -H 'Authorization: Bearer ${demo.apiKey}' ${demo.relayApiUrl}/api/v1/tenants/${demo.tenants.production.tenantId}`,
  );
  line();
  line(`  Production address (the marketplace's calls): ${demo.productionAddress}`);
  const lapsed = demo.tenants.lapsed.instanceId;
  line(
    `  Renew the lapsed buyer:  npm run sandbox -- unfreeze --relay ${demo.productionAddress} --basic-key ${demo.basicKey} --instance-id ${lapsed}`,
  );
  line();
  line('  Ctrl-C to stop.');
  const stop = () => void demo.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

await main();
