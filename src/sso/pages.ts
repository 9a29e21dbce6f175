/**
 * Server-rendered pages from `views/`: the signed-out page and one page per sign-in failure,
 * in Chinese and English, carrying the request id that is also in the request's log line.
 */
import { readFileSync } from 'node:fs';
import type { Request, Response } from 'express';
import { notes } from '../ops/log.js';

export type Failure =
  | 'bad_request'
  | 'unknown_tenant'
  | 'no_client'
  | 'code_rejected'
  | 'not_authorized'
  | 'user_disabled'
  | 'instance_frozen'
  | 'instance_released'
  | 'idp_unavailable'
  | 'cross_site'
  | 'insecure_transport'
  | 'rate_limited'
  | 'store_unavailable'
  | 'internal_error';

interface FailureText {
  status: number;
  titleZh: string;
  titleEn: string;
  messageZh: string;
  messageEn: string;
}

export const FAILURES: Record<Failure, FailureText> = {
  bad_request: {
    status: 400,
    titleZh: '登录请求无效',
    titleEn: 'This sign-in request is not valid',
    messageZh: '登录回调缺少 code 或 tenant 参数。请从应用首页重新登录。',
    messageEn: 'The sign-in callback is missing its code or tenant. Please start again from the application.',
  },
  unknown_tenant: {
    status: 400,
    titleZh: '未找到您的企业',
    titleEn: 'Your organisation is not known here',
    messageZh: '您的企业尚未同步到本应用。请联系企业管理员在华为云云商店重新绑定本应用。',
    messageEn:
      'Your organisation has not been synchronised to this application yet. Ask your administrator to bind the application again in KooGallery.',
  },
  no_client: {
    status: 400,
    titleZh: '应用凭证尚未同步',
    titleEn: 'The application is not set up for your organisation',
    messageZh: '本应用还没有收到您企业的应用凭证。请联系企业管理员在华为云云商店重新绑定本应用。',
    messageEn:
      'This application has not received its credentials for your organisation. Ask your administrator to bind the application again in KooGallery.',
  },
  code_rejected: {
    status: 400,
    titleZh: '登录凭证无效或已过期',
    titleEn: 'The sign-in could not be completed',
    messageZh: '身份认证服务拒绝了本次登录凭证，它可能已被使用或已过期。请重新登录。',
    messageEn:
      'The identity service refused this sign-in; it may have been used already or have expired. Please sign in again.',
  },
  not_authorized: {
    status: 403,
    titleZh: '您未被授权使用本应用',
    titleEn: 'You are not authorised to use this application',
    messageZh: '您的账号尚未获得本应用的授权。请联系企业管理员在云商店中为您授权。',
    messageEn:
      'Your account has not been authorised for this application. Ask your administrator to authorise you in KooGallery.',
  },
  user_disabled: {
    status: 403,
    titleZh: '您的账号已被停用',
    titleEn: 'Your account is disabled',
    messageZh: '您的账号在本应用中已被停用。请联系企业管理员。',
    messageEn: 'Your account has been disabled for this application. Please contact your administrator.',
  },
  instance_frozen: {
    status: 403,
    titleZh: '订阅已冻结',
    titleEn: 'This subscription is frozen',
    messageZh: '您企业对本应用的订阅已到期并被冻结。请联系企业管理员在华为云云商店续费后重新登录。',
    messageEn:
      "Your organisation's subscription to this application has expired and is frozen. Ask your administrator to renew it in KooGallery, then sign in again.",
  },
  instance_released: {
    status: 403,
    titleZh: '订阅已释放',
    titleEn: 'This subscription has been released',
    messageZh:
      '您企业对本应用的订阅已退订或释放，无法再使用本应用。如需继续使用，请联系企业管理员在华为云云商店重新购买。',
    messageEn:
      "Your organisation's subscription to this application has ended and was released. To use the application again, ask your administrator to purchase it in KooGallery.",
  },
  idp_unavailable: {
    status: 502,
    titleZh: '身份认证服务暂时不可用',
    titleEn: 'The identity service is not available',
    messageZh: '暂时无法连接您企业的身份认证服务，或它没有正常响应。请稍后重试。',
    messageEn:
      "Your organisation's identity service could not be reached or did not answer properly. Please try again in a moment.",
  },
  insecure_transport: {
    status: 500,
    titleZh: '本应用的登录配置有误',
    titleEn: "This application's sign-in is misconfigured",
    messageZh: '登录需要 HTTPS 连接，但请求没有以 HTTPS 到达。请联系应用提供商。',
    messageEn:
      'Sign-in needs HTTPS, but this request did not arrive over HTTPS. Please tell the application provider.',
  },
  rate_limited: {
    status: 429,
    titleZh: '登录请求过于频繁',
    titleEn: 'Too many sign-in attempts',
    messageZh: '短时间内的登录请求过多，已被暂时限制。请稍等一分钟后重新登录。',
    messageEn:
      'There have been too many sign-in attempts in a short time, so they are paused for a moment. Please wait a minute, then sign in again.',
  },
  store_unavailable: {
    status: 503,
    titleZh: '服务暂时不可用',
    titleEn: 'The service is briefly unavailable',
    messageZh: '本应用暂时无法记录您的登录状态，您尚未登录。请稍后重试。',
    messageEn:
      'This application could not record your sign-in just now, so you are not signed in. Please try again in a moment.',
  },
  internal_error: {
    status: 500,
    titleZh: '出现了内部错误',
    titleEn: 'Something went wrong on our side',
    messageZh: '处理您的请求时出错。请重试；如果问题持续，请把下面的参考编号告诉应用提供商。',
    messageEn:
      'Your request could not be completed. Please try again; if it keeps happening, give the reference below to the application provider.',
  },
  cross_site: {
    status: 403,
    titleZh: '请求被拒绝',
    titleEn: 'Request refused',
    messageZh: '该请求来自其他网站，已被拒绝。',
    messageEn: 'This request came from another site and was refused.',
  },
};

const escapes: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};
const escape = (v: string) => v.replace(/[&<>"']/g, (c) => escapes[c]!);

const cache = new Map<string, string>();
function template(name: string): string {
  let t = cache.get(name);
  if (t === undefined)
    cache.set(name, (t = readFileSync(new URL(`../../views/${name}.html`, import.meta.url), 'utf8')));
  return t;
}

export function render(name: string, vars: Record<string, string>): string {
  return template(name).replace(/\{\{(\w+)\}\}/g, (_, k: string) => escape(vars[k] ?? ''));
}

export function sendPage(
  res: Response,
  status: number,
  name: string,
  vars: Record<string, string> = {},
): void {
  res.status(status).type('html').setHeader('Cache-Control', 'no-store');
  res.send(render(name, vars));
}

export function sendFailure(req: Request, res: Response, failure: Failure, detail?: string): void {
  const text = FAILURES[failure];
  const n = notes(res);
  n.fields = { ...n.fields, failure, ...(detail ? { detail } : {}) };
  sendPage(res, text.status, 'error', {
    ...text,
    status: String(text.status),
    failure,
    reference: req.reqId,
  });
}

export const stylesheetPath = new URL('../../views/relay.css', import.meta.url);
