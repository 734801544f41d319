import { MembersTree } from '../protocol/zk/members-tree.ts';
import type { MemberRepo } from './store/member-repo.ts';

/**
 * Members trees rebuilt from Redis and kept per task, grown incrementally: the list only ever
 * appends, so the tree of the first n members never changes and a tree of n can be extended to
 * any m > n. Roots of earlier sizes are remembered for the rounds that were opened on them.
 */
export class MembersTrees {
  private readonly trees = new Map<number, MembersTree>();
  private readonly roots = new Map<string, string>();

  constructor(private readonly members: MemberRepo) {}

  /** Root (bytes32 hex) of the tree of the first `count` members of `task`; count >= 1. */
  async rootOf(task: number, count: number): Promise<`0x${string}`> {
    const key = `${task}:${count}`;
    const known = this.roots.get(key);
    if (known) return known as `0x${string}`;
    let tree = this.trees.get(task);
    if (!tree) this.trees.set(task, (tree = MembersTree.of([])));
    // A size older than the cached tree's (a round opened before it grew): a scratch tree.
    else if (tree.size > count) tree = MembersTree.of([]);
    const more = await this.members.range(task, tree.size, count);
    if (tree.size + more.length !== count) throw new Error(`task ${task} has ${tree.size + more.length} members, not ${count}`);
    tree.add(more.map(BigInt));
    const root = tree.rootHex;
    this.roots.set(key, root);
    return root;
  }
}
