// Reads only MQTT fixed headers off the raw socket stream, to refuse a packet that announces a
// length over the limit before the parser buffers it (the parser waits for a whole packet, so a
// device could otherwise make the server hold megabytes per connection).

/** Called once with the announced length of the first packet over the limit. */
export type OversizeHandler = (remainingLength: number, packetType: number) => void;

export class FrameGuard {
  /** Bytes of the current packet's body still to skip. */
  private skip = 0;
  /** 0: expect a fixed header byte; 1: reading the remaining-length varint. */
  private state: 0 | 1 = 0;
  private type = 0;
  private length = 0;
  private multiplier = 1;
  private tripped = false;

  constructor(
    private readonly maxRemainingLength: number,
    private readonly onOversize: OversizeHandler,
  ) {}

  /** Feeds one chunk of socket data. */
  push(chunk: Buffer): void {
    let i = 0;
    const n = chunk.length;
    while (i < n && !this.tripped) {
      if (this.skip > 0) {
        const take = Math.min(this.skip, n - i);
        this.skip -= take;
        i += take;
        continue;
      }
      const byte = chunk[i++] as number;
      if (this.state === 0) {
        this.type = byte >> 4;
        this.length = 0;
        this.multiplier = 1;
        this.state = 1;
        continue;
      }
      this.length += (byte & 0x7f) * this.multiplier;
      this.multiplier *= 128;
      if (byte & 0x80 && this.multiplier <= 128 ** 3) continue; // at most 4 length bytes; the parser rejects more
      this.state = 0;
      if (this.length > this.maxRemainingLength) {
        this.tripped = true;
        this.onOversize(this.length, this.type);
        return;
      }
      this.skip = this.length;
    }
  }
}
