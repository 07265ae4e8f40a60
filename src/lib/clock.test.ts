import { expect, test } from 'vitest';
import { createManualClock } from './clock.js';

test('a manual timer runs only when time is advanced past its due time, at that time', () => {
  const clock = createManualClock(1000);
  const ran: number[] = [];
  clock.setTimeout(() => ran.push(clock.now()), 500);
  clock.advance(499);
  expect(ran).toEqual([]);
  clock.advance(1);
  expect(ran).toEqual([1500]);
  clock.advance(10_000);
  expect(ran).toEqual([1500]);
});

test('manual timers run in due order, including timers scheduled by a timer inside the same advance', () => {
  const clock = createManualClock(0);
  const ran: string[] = [];
  clock.setTimeout(() => ran.push(`b@${clock.now()}`), 20);
  clock.setTimeout(() => {
    ran.push(`a@${clock.now()}`);
    clock.setTimeout(() => ran.push(`c@${clock.now()}`), 15);
  }, 10);
  clock.setTimeout(() => ran.push(`zero@${clock.now()}`), 0);
  clock.advance(100);
  expect(ran).toEqual(['zero@0', 'a@10', 'b@20', 'c@25']);
  expect(clock.now()).toBe(100);
});

test('a cancelled manual timer never runs, and set() forward runs what falls due', () => {
  const clock = createManualClock(0);
  const ran: number[] = [];
  clock.setTimeout(() => ran.push(1), 10).cancel();
  clock.setTimeout(() => ran.push(2), 50);
  clock.set(60);
  expect(ran).toEqual([2]);
  clock.set(0);
  expect(clock.now()).toBe(0);
});
