import { describe, expect, it } from 'vitest';
import { domainAllowed } from '../../../lib/events/install.js';

describe('domainAllowed', () => {
  it('allows a domain named exactly', () => {
    expect(domainAllowed('example.bitrix24.com', ['other.bitrix24.com', 'example.bitrix24.com'])).toBe(true);
  });

  it('allows any subdomain of a *.suffix rule', () => {
    expect(domainAllowed('example.bitrix24.com', ['*.bitrix24.com'])).toBe(true);
    expect(domainAllowed('a.b.bitrix24.com', ['*.bitrix24.com'])).toBe(true);
  });

  it('does not let *.suffix match the bare suffix itself', () => {
    expect(domainAllowed('bitrix24.com', ['*.bitrix24.com'])).toBe(false);
  });

  it('does not let *.suffix match a domain that merely ends in the same letters', () => {
    expect(domainAllowed('evilbitrix24.com', ['*.bitrix24.com'])).toBe(false);
    expect(domainAllowed('bitrix24.com.evil.example', ['*.bitrix24.com'])).toBe(false);
  });

  it('does not treat an exact rule as a suffix or a prefix', () => {
    expect(domainAllowed('a.example.bitrix24.com', ['example.bitrix24.com'])).toBe(false);
    expect(domainAllowed('example.bitrix24.co', ['example.bitrix24.com'])).toBe(false);
  });

  it('allows nothing with an empty allow-list', () => {
    expect(domainAllowed('example.bitrix24.com', [])).toBe(false);
  });

  it('gives "*" and "*." no special meaning', () => {
    expect(domainAllowed('example.bitrix24.com', ['*'])).toBe(false);
    expect(domainAllowed('example.bitrix24.com', ['*.'])).toBe(false);
  });
});
