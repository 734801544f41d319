import type { CoordinatorContext } from '../context.ts';
import type { Task } from '../../protocol/index.ts';

/**
 * What round `round` of a task pays: its `rewards.perRound`, capped by what the budget has left
 * after the earlier rounds' allocations (the rewards their manifests set aside, which the chain
 * takes from the same budget in the same order). Once the budget is spent, rounds still train and
 * commit their checkpoints, with a reward of 0 and nothing to claim; without the cap the commit
 * would revert (DistributorBudgetShort) and the round would never reach the chain.
 * A budget of 0 means no deposit was set, and caps nothing (the chain-less setting).
 */
export async function roundReward(ctx: CoordinatorContext, t: Task, round: number): Promise<bigint> {
  const perRound = BigInt(t.rewards.perRound);
  const budget = BigInt(t.rewards.budget);
  if (budget === 0n || perRound === 0n) return perRound;
  let spent = 0n;
  for (let r = 1; r < round; r++) {
    const earlier = await ctx.rounds.get(t.id, r);
    if (earlier?.reward) spent += BigInt(earlier.reward);
  }
  const left = budget > spent ? budget - spent : 0n;
  return perRound < left ? perRound : left;
}
