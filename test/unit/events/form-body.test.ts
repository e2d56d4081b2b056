import { describe, expect, it } from 'vitest';
import { ServiceError } from '../../../lib/errors/index.js';
import { parseFormBody } from '../../../lib/events/form-body.js';

const parse = (text: string) => parseFormBody(Buffer.from(text, 'utf8'));

function refusal(text: string): ServiceError {
  try {
    parse(text);
  } catch (error) {
    expect(error).toBeInstanceOf(ServiceError);
    return error as ServiceError;
  }
  throw new Error(`expected ${JSON.stringify(text.slice(0, 80))} to be refused, but it parsed`);
}

describe('parseFormBody', () => {
  it('nests PHP-style keys into objects', () => {
    // Act
    const form = parse(
      'event=ONIMBOTMESSAGEADD&data[PARAMS][DIALOG_ID]=27&data[USER][NAME]=Svetlana&auth[domain]=a.bitrix24.com',
    );

    // Assess
    expect(form).toEqual({
      event: 'ONIMBOTMESSAGEADD',
      data: { PARAMS: { DIALOG_ID: '27' }, USER: { NAME: 'Svetlana' } },
      auth: { domain: 'a.bitrix24.com' },
    });
  });

  it('keeps the deepest key Bitrix24 sends (data[BOT][<id>][AUTH][access_token])', () => {
    const form = parse('data[BOT][567][AUTH][access_token]=abc');
    expect(form).toEqual({ data: { BOT: { '567': { AUTH: { access_token: 'abc' } } } } });
  });

  it('decodes percent-encoded brackets in keys as PHP does', () => {
    expect(parse('data%5BPARAMS%5D%5BDIALOG_ID%5D=chat5')).toEqual({ data: { PARAMS: { DIALOG_ID: 'chat5' } } });
  });

  describe('numeric keys (bot and command ids)', () => {
    it('keeps a bot id as an object key, never an array index', () => {
      const form = parse('data[BOT][567][BOT_ID]=567');
      const bots = (form.data as Record<string, unknown>).BOT;
      expect(Array.isArray(bots)).toBe(false);
      expect(bots).toEqual({ '567': { BOT_ID: '567' } });
    });

    it('keeps small ids 0 and 1 as object keys too', () => {
      const form = parse('data[COMMAND][0][BOT_ID]=7&data[COMMAND][1][BOT_ID]=8');
      const commands = (form.data as Record<string, unknown>).COMMAND;
      expect(Array.isArray(commands)).toBe(false);
      expect(commands).toEqual({ '0': { BOT_ID: '7' }, '1': { BOT_ID: '8' } });
    });

    it('does not grow a sparse array for a huge id', () => {
      const form = parse('data[BOT][4294967295][BOT_ID]=1');
      expect(Object.keys((form.data as Record<string, Record<string, unknown>>).BOT ?? {})).toEqual(['4294967295']);
    });

    it('keeps a numeric top-level key as an object key', () => {
      const form = parse('0=a&1=b');
      expect(Array.isArray(form)).toBe(false);
      expect(form).toEqual({ '0': 'a', '1': 'b' });
    });
  });

  it('collects a repeated key into a list rather than silently keeping one value', () => {
    // Bitrix24 never repeats a key; the caller then sees a non-string and refuses the event.
    expect(parse('event=A&event=B').event).toEqual(['A', 'B']);
  });

  it('refuses a key repeated more often than any real event could repeat it', () => {
    expect(refusal(Array.from({ length: 25 }, (_, i) => `a=${i}`).join('&')).code).toBe('EVENT_INVALID');
  });

  it('decodes "+" and "%20" as spaces, in keys and in values', () => {
    expect(parse('data[PARAMS][MESSAGE]=Hello+world%20again&my+key=1&other%20key=2')).toEqual({
      data: { PARAMS: { MESSAGE: 'Hello world again' } },
      'my key': '1',
      'other key': '2',
    });
  });

  it('decodes UTF-8 percent sequences', () => {
    expect(parse('data[USER][NAME]=%D0%A1%D0%B2%D0%B5%D1%82%D0%BB%D0%B0%D0%BD%D0%B0').data).toEqual({
      USER: { NAME: 'Светлана' },
    });
  });

  it('keeps invalid percent-encoding literally instead of failing', () => {
    expect(parse('a=%&b=%ZZ&c=%E0%A4%A&d=100%25&%G1=x')).toEqual({
      a: '%',
      b: '%ZZ',
      c: '%E0%A4%A',
      d: '100%',
      '%G1': 'x',
    });
  });

  it('accepts an empty body as an empty form', () => {
    expect(parse('')).toEqual({});
  });

  describe('limits', () => {
    it('accepts nesting up to 10 levels below the root', () => {
      const key = `a${'[x]'.repeat(10)}`;
      expect(() => parse(`${key}=1`)).not.toThrow();
    });

    it('accepts the deepest documented key, a v2 message attachment nested 9 levels', () => {
      // Old behaviour: refused as EVENT_INVALID (the limit was 6).
      const form = parse('data[message][params][ATTACH][0][BLOCKS][0][GRID][0][NAME]=Status');
      expect(form).toEqual({
        data: { message: { params: { ATTACH: { 0: { BLOCKS: { 0: { GRID: { 0: { NAME: 'Status' } } } } } } } } },
      });
    });

    it('refuses nesting 11 levels deep, one deeper than the limit, with EVENT_INVALID', () => {
      const error = refusal(`a${'[x]'.repeat(11)}=1`);
      expect(error.code).toBe('EVENT_INVALID');
      expect(error.status).toBe(400);
    });

    it('refuses nesting far deeper than the limit with EVENT_INVALID', () => {
      expect(refusal(`a${'[x]'.repeat(500)}=1`).code).toBe('EVENT_INVALID');
    });

    it('accepts exactly 2,000 keys', () => {
      const form = parse(Array.from({ length: 2_000 }, (_, i) => `k${i}=1`).join('&'));
      expect(Object.keys(form)).toHaveLength(2_000);
    });

    it('refuses 2,001 keys, one over the limit, with EVENT_INVALID', () => {
      const error = refusal(Array.from({ length: 2_001 }, (_, i) => `k${i}=1`).join('&'));
      expect(error.code).toBe('EVENT_INVALID');
    });
  });

  describe('prototype pollution', () => {
    it('does not pollute Object.prototype through __proto__, constructor or prototype keys', () => {
      // Act
      const form = parse(
        '__proto__[polluted]=1&constructor[prototype][polluted]=1&a[__proto__][polluted]=1&a[constructor][prototype][polluted]=1&__proto__=x',
      );

      // Assess
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect((Object.prototype as Record<string, unknown>).polluted).toBeUndefined();
      expect(Object.getPrototypeOf(form)).toBeNull();
      expect(Object.prototype.hasOwnProperty.call(form, '__proto__')).toBe(false);
    });

    it('gives every parsed object a null prototype, so keys like toString are plain data', () => {
      const form = parse('toString=1&a[hasOwnProperty]=2&valueOf[x]=3');
      expect(form.toString).toBe('1');
      expect(Object.getPrototypeOf(form.a)).toBeNull();
      expect(form.a).toEqual({ hasOwnProperty: '2' });
      expect(form.valueOf).toEqual({ x: '3' });
    });
  });
});
