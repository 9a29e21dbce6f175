import { randomBytes } from 'node:crypto';

/** A new order id shaped like the documents' examples: `CS` and 15 characters (`CS2211181819B4LVS`). */
export function newOrderId(): string {
  return `CS${randomBytes(8).toString('hex').toUpperCase().slice(0, 15)}`;
}

/** A fresh order, as each purchase, renewal, upgrade and release brings one; its line is `-000001`. */
export function newOrder(): { orderId: string; orderLineId: string } {
  const orderId = newOrderId();
  return { orderId, orderLineId: `${orderId}-000001` };
}
