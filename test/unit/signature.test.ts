// Vectors from kit-sync-and-signing.md §2.2 and §7.3: the ground truth for relay and sandbox alike.
import { describe, expect, it } from '@jest/globals';
import { canonicalPayload, legacyCanonicalPayload } from '../../src/kit/canonical.js';
import { bodySignHeader, bodySignature, kitSign, signaturesMatch } from '../../src/kit/signature.js';

const accessKey = 'EXAMPLEACCESSKEY1234567890';
const nonce = '50D83FDECAED6CCD8EF597F2A577950527928BA287D04E6036E92B2806FD17DA';
const timestamp = '1680508066618';

const tenantSyncSent =
  '{"instanceId":"huaiweitest123456","orderId":"CS1906666666ABCDE","tenantId":"68cbc86abc2018ab880d92f36422fa0e","tenantCode":"huawei","name":"huaiweitest","domainName":"https://example.tenantaccount.com","flag":1,"testFlag":0,"timeStamp":"20220413093539534"}';
const tenantSyncPayload =
  '{"domainName":"https://example.tenantaccount.com","flag":1,"instanceId":"huaiweitest123456","name":"huaiweitest","orderId":"CS1906666666ABCDE","tenantCode":"huawei","tenantId":"68cbc86abc2018ab880d92f36422fa0e","testFlag":0,"timeStamp":"20220413093539534"}';

const authSyncSent =
  '{"instanceId":"inst-001","tenantId":"68cbc86abc2018ab880d92f36422fa0e","appId":"app-001","userList":[{"userName":"zhangsan01","name":"张三","orgCode":"10000","role":"admin","enable":"true"}],"currentSyncTime":"20220413093539534","flag":1,"testFlag":0,"timeStamp":"20220413093539534"}';
const authSyncPayload =
  '{"appId":"app-001","currentSyncTime":"20220413093539534","flag":1,"instanceId":"inst-001","tenantId":"68cbc86abc2018ab880d92f36422fa0e","testFlag":0,"timeStamp":"20220413093539534","userList":[{"userName":"zhangsan01","name":"张三","orgCode":"10000","role":"admin","enable":"true"}]}';

describe('canonical payload (§2.2)', () => {
  it('sorts top-level keys of the tenantSync vector', () => {
    expect(canonicalPayload(tenantSyncSent)).toBe(tenantSyncPayload);
    expect(legacyCanonicalPayload(JSON.parse(tenantSyncSent))).toBe(tenantSyncPayload);
  });

  it('keeps nested order and non-ASCII text of the authSync vector', () => {
    expect(canonicalPayload(authSyncSent)).toBe(authSyncPayload);
    expect(legacyCanonicalPayload(JSON.parse(authSyncSent))).toBe(authSyncPayload);
  });

  it('drops top-level nulls but keeps nested nulls and empty strings', () => {
    expect(canonicalPayload('{"b":null,"a":"","c":[{"z":null,"y":1}]}')).toBe(
      '{"a":"","c":[{"z":null,"y":1}]}',
    );
  });

  it('orders keys by UTF-16 code unit, as Java TreeMap does, not by locale', () => {
    expect(canonicalPayload('{"b":1,"B":2,"a":3,"_":4}')).toBe('{"B":2,"_":4,"a":3,"b":1}');
  });
});

describe('x-sign (§2.2)', () => {
  it('matches the tenantSync vector', () => {
    expect(kitSign(accessKey, nonce, timestamp, tenantSyncPayload)).toBe(
      '2107ADC41F650BE96A16227EE295AF59931DF419DF9A855400940D961539DD75',
    );
  });

  it('matches the authSync vector', () => {
    expect(kitSign(accessKey, nonce, timestamp, authSyncPayload)).toBe(
      '9209F76DD696835B6658934B3444EFF89A6ADD68FB810D4078C0048E7438FF18',
    );
  });

  it('compares case-insensitively and refuses other values', () => {
    const sign = '2107ADC41F650BE96A16227EE295AF59931DF419DF9A855400940D961539DD75';
    expect(signaturesMatch(sign, sign.toLowerCase())).toBe(true);
    expect(signaturesMatch(sign, sign.slice(0, -1) + '6')).toBe(false);
    expect(signaturesMatch(sign, sign.slice(0, 10))).toBe(false);
    expect(signaturesMatch(sign, '')).toBe(false);
  });
});

describe('Body-Sign (§7.3)', () => {
  const body = '{"resultCode":"000000","resultMsg":"Success"}';

  it('matches the response vector', () => {
    expect(bodySignature(accessKey, body)).toBe('lSnrkSqeRmzgRM29V6Zi00o1qirjjsK6pzAZEPe7QZg=');
  });

  it('is written in the form of Huawei samples, quotes included', () => {
    expect(bodySignHeader(accessKey, body)).toBe(
      'sign_type="HMAC-SHA256", signature= "lSnrkSqeRmzgRM29V6Zi00o1qirjjsK6pzAZEPe7QZg="',
    );
  });
});
