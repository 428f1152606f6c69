import type { Redis } from '../../../../lib/redis.js';
import { encodeTick, type Tick } from '../../../../contracts/market-tick.js';

// Fenced publish: the ticks go out only if the caller still holds the feed lock, checked atomically
// with the PUBLISHes, so a leader that lost its lease (a pause, a partition) cannot double-publish
// next to its successor. The latest tick per symbol also lands in the quotes hash in the same step.
// KEYS[1] lock, KEYS[2] quotes hash; ARGV[1] lock token, ARGV[2] channel prefix, then symbol/payload pairs.
const PUBLISH = `
if redis.call('get', KEYS[1]) ~= ARGV[1] then return -1 end
local n = 0
local latest = {}
for i = 3, #ARGV, 2 do
  redis.call('publish', ARGV[2] .. ARGV[i], ARGV[i + 1])
  latest[ARGV[i]] = ARGV[i + 1]
  n = n + 1
end
local fields = {}
for sym, payload in pairs(latest) do
  fields[#fields + 1] = sym
  fields[#fields + 1] = payload
end
if #fields > 0 then redis.call('hset', KEYS[2], unpack(fields)) end
return n
`;

/** Most ticks per script call: bounds the script's argument list (and the time Redis spends in it). */
const CHUNK = 500;

/**
 * Publishes ticks on per-symbol channels (`<REDIS_PREFIX>market:ticks:<SYMBOL>`, see contracts/redis-names
 * `channels.marketTicks`): subscribers of a few symbols receive only those, and Redis does the fan-out.
 */
export class TickPublisher {
  private readonly run: (...args: string[]) => Promise<number>;

  constructor(
    redis: Redis,
    private readonly lockKey: string,
    private readonly quotesKey: string,
    private readonly channelPrefix: string,
  ) {
    // defineCommand: EVALSHA with the script cached in Redis, and the client's keyPrefix on KEYS.
    redis.defineCommand('marketFencedPublish', { numberOfKeys: 2, lua: PUBLISH });
    const command = (redis as unknown as Record<string, (...args: string[]) => Promise<number>>)[
      'marketFencedPublish'
    ];
    if (!command) throw new Error('marketFencedPublish command not defined');
    this.run = command.bind(redis);
  }

  /**
   * Publishes `ticks` in order, in chunks, while `token` holds the feed lock.
   * @returns how many ticks (a prefix of `ticks`) went out, and whether the lock was found lost
   */
  async publish(ticks: readonly Tick[], token: string): Promise<{ published: number; lostLock: boolean }> {
    let published = 0;
    for (let start = 0; start < ticks.length; start += CHUNK) {
      const args: string[] = [this.lockKey, this.quotesKey, token, this.channelPrefix];
      for (const t of ticks.slice(start, start + CHUNK)) args.push(t.symbol, encodeTick(t));
      const n = await this.run(...args);
      if (n < 0) return { published, lostLock: true };
      published += n;
    }
    return { published, lostLock: false };
  }
}
