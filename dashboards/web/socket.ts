import type { ClientFrame, ServerFrame } from '../../contracts/advisor-frames.ts';
import { storedToken } from './api.ts';

type FrameOf<T extends ServerFrame['type']> = Extract<ServerFrame, { type: T }>;

export interface AdvisorSocket {
  /** Sends a frame now if connected; frames sent while down are not queued. */
  send(frame: ClientFrame): boolean;
  /** Handles every frame of a type (as well as the handlers already given). */
  on<T extends ServerFrame['type']>(type: T, handler: (frame: FrameOf<T>) => void): void;
  /** Called on each (re)connection, to subscribe and watch again. */
  onOpen(handler: () => void): void;
  isOpen(): boolean;
  /** Connects (again), e.g. after a new token. */
  reconnect(): void;
}

const MAX_RETRY_MS = 10_000;

/**
 * The advisor's WebSocket (/v1/ws), connected again with a growing pause when it drops. The
 * connection state is written to the element given (for people and for tests).
 */
export function connectSocket(status: HTMLElement): AdvisorSocket {
  const handlers = new Map<ServerFrame['type'], ((frame: ServerFrame) => void)[]>();
  const openHandlers: (() => void)[] = [];
  let socket: WebSocket | undefined;
  let retryMs = 500;
  let timer: number | undefined;

  const say = (state: 'connecting' | 'connected' | 'disconnected', text: string): void => {
    status.dataset['state'] = state;
    status.textContent = text;
  };

  const connect = (): void => {
    window.clearTimeout(timer);
    socket?.close();
    const url = new URL('v1/ws', location.href);
    url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const token = storedToken();
    if (token !== undefined) url.searchParams.set('token', token);
    say('connecting', 'connecting…');
    const current = new WebSocket(url);
    socket = current;
    current.addEventListener('open', () => {
      retryMs = 500;
      say('connected', 'connected');
      for (const handler of openHandlers) handler();
    });
    current.addEventListener('message', (event: MessageEvent<string>) => {
      const frame = JSON.parse(event.data) as ServerFrame;
      for (const handler of handlers.get(frame.type) ?? []) handler(frame);
    });
    current.addEventListener('close', () => {
      if (socket !== current) return;
      say('disconnected', `offline; trying again in ${Math.round(retryMs / 1000)} s`);
      timer = window.setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, MAX_RETRY_MS);
    });
  };

  connect();
  return {
    send: (frame) => {
      if (socket?.readyState !== WebSocket.OPEN) return false;
      socket.send(JSON.stringify(frame));
      return true;
    },
    on: (type, handler) => {
      handlers.set(type, [...(handlers.get(type) ?? []), handler as (frame: ServerFrame) => void]);
    },
    onOpen: (handler) => {
      openHandlers.push(handler);
    },
    isOpen: () => socket?.readyState === WebSocket.OPEN,
    reconnect: connect,
  };
}
