import { describe, expect, it } from 'vitest';
import { describeWindow, ipThrottleKey, throttleMessage } from './request-throttle.js';

describe('ipThrottleKey', () => {
  it('keeps IPv4 addresses, unwraps IPv4-mapped ones', () => {
    expect(ipThrottleKey('203.0.113.7')).toBe('203.0.113.7');
    expect(ipThrottleKey('::ffff:203.0.113.7')).toBe('203.0.113.7');
  });

  it('groups IPv6 addresses by their /64, however they are written', () => {
    const key = '2001:db8:1:2::/64';
    for (const ip of [
      '2001:db8:1:2::1',
      '2001:0db8:0001:0002:aaaa:bbbb:cccc:dddd',
      '2001:DB8:1:2:ffff::',
      '2001:db8:1:2::1%eth0',
    ]) {
      expect(ipThrottleKey(ip)).toBe(key);
    }
    expect(ipThrottleKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(ipThrottleKey('::1')).toBe('0:0:0:0::/64');
    expect(ipThrottleKey('2001:db8:1:3::1')).not.toBe(ipThrottleKey('2001:db8:1:2::1'));
  });

  it('puts unknown callers under one key', () => {
    expect(ipThrottleKey(undefined)).toBe('unknown');
    expect(ipThrottleKey('')).toBe('unknown');
  });
});

describe('throttle messages', () => {
  it('name the limit and its window', () => {
    expect(describeWindow(3600)).toBe('hour');
    expect(describeWindow(900)).toBe('15 minutes');
    expect(describeWindow(7200)).toBe('2 hours');
    expect(describeWindow(90)).toBe('90 seconds');
    expect(throttleMessage('registrations from your address', 10, 3600)).toBe(
      'Too many registrations from your address: the limit is 10 per hour',
    );
  });
});
