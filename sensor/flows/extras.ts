import type { DeviceFacts } from '../devices/inventory.js';
import type { AppFacts } from './app.js';

/** What the flow meter knows of an ended flow beyond its record. */
export interface FlowExtras {
  app: AppFacts | null;
  /** the local device an Internet host opened the flow to (inbound flows only) */
  responder: DeviceFacts | null;
}
