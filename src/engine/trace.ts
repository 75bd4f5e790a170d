import { Subject, type Observable } from 'rxjs';

/** One node step of one message: what a trace view draws. */
export interface TraceEvent {
  readonly msgId: string;
  readonly msgType: string;
  readonly originatorId: string;
  readonly chainId: string;
  readonly chainName: string;
  readonly nodeId: string;
  readonly nodeName: string;
  readonly nodeType: string;
  /** The relations the node emitted ([] when the branch ended there). */
  readonly relations: readonly string[];
  readonly durationMs: number;
  readonly error?: string;
  readonly ts: number;
}

/** Trace events on an rxjs stream. Off by default: when off, the runtime does not even read the clock. */
export class TraceHub {
  enabled = false;
  private readonly subject = new Subject<TraceEvent>();
  readonly events$: Observable<TraceEvent> = this.subject.asObservable();

  emit(event: TraceEvent): void {
    this.subject.next(event);
  }

  complete(): void {
    this.subject.complete();
  }
}
