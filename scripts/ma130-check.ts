/**
 * `make ma130-check`: can the tenants worker reach the MA130 as backups need it? Connects with the
 * configured key (MA130_KEY_PATH) and the pinned host key (MA130_HOST_KEY_SHA256 or
 * MA130_HOST_PUBLIC_KEY_PATH), writes, reads back and deletes a probe file under MA130_BACKUP_PATH,
 * then prints a verdict; on failure the step and the reason, and exit code 1.
 */
import { ma130Settings } from '../subgraphs/tenants/src/backup/ma130.client.js';
import { probeMa130 } from '../subgraphs/tenants/src/backup/ma130.probe.js';
import { loadToolConfig, paint } from './platform.js';

const config = loadToolConfig();
const settings = ma130Settings(config);
const colour = process.stdout.isTTY;
const target = `${settings.username}@${settings.host}:${settings.port} ${settings.basePath}`;
console.log(`MA130 ${target}`);
console.log(`  key       ${settings.privateKeyPath}`);
console.log(`  host key  ${settings.hostKeySha256 ?? '(not pinned)'}`);
const result = await probeMa130(settings);
if (result.ok) {
  console.log(
    paint('MA130 reachable: connected, wrote, read back and deleted a probe file', 'green', colour, true),
  );
} else {
  console.log(paint(`MA130 NOT reachable (${result.step}): ${result.reason}`, 'red', colour, true));
  process.exitCode = 1;
}
