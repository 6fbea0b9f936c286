/**
 * The async iterator of a connection: `recv` until it returns `null`
 * (one small object, no generator).
 *
 * @module
 */

type Message = string | Uint8Array;

const END: IteratorReturnResult<undefined> = { done: true, value: undefined };

/** Iterates the messages of `source`. */
export class Messages implements AsyncIterableIterator<Message, void, undefined> {
  readonly #source: { recv(): Promise<Message | null> };

  /** @param source the connection */
  constructor(source: { recv(): Promise<Message | null> }) {
    this.#source = source;
  }

  /** The next message, or the end once `recv` returns `null`. */
  next(): Promise<IteratorResult<Message, void>> {
    return this.#source.recv().then(toResult);
  }

  /** Ends the iteration (the connection stays as it is). */
  return(): Promise<IteratorResult<Message, void>> {
    return Promise.resolve(END);
  }

  /** Itself. */
  [Symbol.asyncIterator](): this {
    return this;
  }
}

function toResult(msg: Message | null): IteratorResult<Message, void> {
  return msg === null ? END : { done: false, value: msg };
}
