import { describe, expect, test, vi } from 'vitest';
import type { VideoStreamType } from './backend';
import { LayerRequests, stageTile, wantedLayers, type LayerTile } from './layers';

const me: LayerTile = { userId: 'me', isSelf: true };
const remote = (...ids: string[]): LayerTile[] => ids.map((userId) => ({ userId, isSelf: false }));
const asObject = (m: Map<string, VideoStreamType>) => Object.fromEntries(m);

describe('wantedLayers', () => {
  test('a one-to-one call (1 or 2 tiles) receives the big layer', () => {
    expect(asObject(wantedLayers([me, ...remote('ann')], 'grid', null))).toEqual({ ann: 'big' });
    // An audience member sees the anchors only, without a tile of their own.
    expect(asObject(wantedLayers(remote('ann'), 'grid', null))).toEqual({ ann: 'big' });
    expect(asObject(wantedLayers(remote('ann', 'bob'), 'grid', null))).toEqual({ ann: 'big', bob: 'big' });
  });

  test('a grid of 3 or more tiles receives the small layer of every camera; my own tile is never asked', () => {
    expect(asObject(wantedLayers([me, ...remote('ann', 'bob')], 'grid', null))).toEqual({ ann: 'small', bob: 'small' });
    expect(wantedLayers([me, ...remote('a', 'b', 'c', 'd', 'e', 'f')], 'grid', null).size).toBe(6);
    expect([...wantedLayers([me, ...remote('a', 'b', 'c')], 'grid', null).values()]).toEqual(['small', 'small', 'small']);
    expect(wantedLayers([me], 'grid', null).size).toBe(0);
    expect(wantedLayers([], 'grid', null).size).toBe(0);
  });

  test('a pinned tile is shown large and received big; the strip is small', () => {
    const tiles = [me, ...remote('ann', 'bob', 'cy')];
    expect(asObject(wantedLayers(tiles, 'grid', 'bob'))).toEqual({ ann: 'small', bob: 'big', cy: 'small' });
    // In a one-to-one call, pinning the other keeps them big; pinning myself puts them in the strip.
    expect(asObject(wantedLayers([me, ...remote('ann')], 'grid', 'ann'))).toEqual({ ann: 'big' });
    expect(asObject(wantedLayers([me, ...remote('ann')], 'grid', 'me'))).toEqual({ ann: 'small' });
    expect(asObject(wantedLayers(tiles, 'grid', 'me'))).toEqual({ ann: 'small', bob: 'small', cy: 'small' });
  });

  test('a pin of someone who is not shown changes nothing', () => {
    expect(asObject(wantedLayers([me, ...remote('ann')], 'grid', 'gone'))).toEqual({ ann: 'big' });
    expect(asObject(wantedLayers([me, ...remote('ann', 'bob')], 'grid', 'gone'))).toEqual({ ann: 'small', bob: 'small' });
  });

  test('while a screen share holds the stage every camera is in the strip: small, pinned or not', () => {
    expect(asObject(wantedLayers([me, ...remote('ann')], 'share', null))).toEqual({ ann: 'small' });
    expect(asObject(wantedLayers([me, ...remote('ann', 'bob')], 'share', 'ann'))).toEqual({ ann: 'small', bob: 'small' });
  });
});

describe('stageTile', () => {
  test('the pinned tile, unless a share holds the stage or nobody else is there', () => {
    const tiles = [me, ...remote('ann', 'bob')];
    expect(stageTile(tiles, 'grid', 'ann')).toBe(tiles[1]);
    expect(stageTile(tiles, 'grid', 'me')).toBe(me);
    expect(stageTile(tiles, 'grid', null)).toBeNull();
    expect(stageTile(tiles, 'grid', 'gone')).toBeNull();
    expect(stageTile(tiles, 'share', 'ann')).toBeNull();
    expect(stageTile(remote('ann'), 'grid', 'ann')).toBeNull();
  });
});

describe('LayerRequests', () => {
  const layers = (o: Record<string, VideoStreamType>) => new Map(Object.entries(o));

  test('asks only on change; asks again for someone who left and came back', () => {
    const send = vi.fn((_u: string, _t: VideoStreamType) => Promise.resolve());
    const r = new LayerRequests(send);
    expect(r.apply(layers({ ann: 'big' }))).toEqual([['ann', 'big']]);
    expect(r.apply(layers({ ann: 'big' }))).toEqual([]);
    expect(r.apply(layers({ ann: 'small', bob: 'small' }))).toEqual([['ann', 'small'], ['bob', 'small']]);
    expect(r.apply(layers({ ann: 'small', bob: 'small' }))).toEqual([]);
    expect(r.layerOf('bob')).toBe('small');
    // bob leaves, then enters again.
    expect(r.apply(layers({ ann: 'big' }))).toEqual([['ann', 'big']]);
    expect(r.layerOf('bob')).toBeUndefined();
    expect(r.apply(layers({ ann: 'small', bob: 'small' }))).toEqual([['ann', 'small'], ['bob', 'small']]);
    expect(send.mock.calls).toEqual([
      ['ann', 'big'],
      ['ann', 'small'],
      ['bob', 'small'],
      ['ann', 'big'],
      ['ann', 'small'],
      ['bob', 'small'],
    ]);
  });

  test('reset asks for everyone again', () => {
    const send = vi.fn(() => Promise.resolve());
    const r = new LayerRequests(send);
    r.apply(layers({ ann: 'small', bob: 'small' }));
    r.reset();
    expect(r.apply(layers({ ann: 'small', bob: 'small' }))).toHaveLength(2);
    expect(send).toHaveBeenCalledTimes(4);
  });

  test('a refused request is reported, and not repeated until the layer changes', async () => {
    const refused = vi.fn();
    const send = vi.fn((_u: string, _t: VideoStreamType) => Promise.reject({ kind: 'not_in_room', message: 'no' }));
    const r = new LayerRequests(send, refused);
    r.apply(layers({ ann: 'small' }));
    await Promise.resolve();
    expect(refused).toHaveBeenCalledWith('ann', 'small', { kind: 'not_in_room', message: 'no' });
    expect(r.apply(layers({ ann: 'small' }))).toEqual([]);
    expect(r.apply(layers({ ann: 'big' }))).toEqual([['ann', 'big']]);
    r.reset();
    expect(r.apply(layers({ ann: 'big' }))).toEqual([['ann', 'big']]);
  });

});
