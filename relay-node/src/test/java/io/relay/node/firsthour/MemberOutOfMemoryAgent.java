package io.relay.node.firsthour;

/**
 * A Java agent loaded into a running node by {@link FirstHourLifecycleTest}: hands
 * Hazelcast an OutOfMemoryError as its own threads do when they meet one, so its handler
 * stops the member under the node (closes its connections, shuts the node down).
 */
public final class MemberOutOfMemoryAgent {
    private MemberOutOfMemoryAgent() {
    }

    public static void agentmain(String args) {
        // Hazelcast's default handler acts on this message whatever the heap's state
        com.hazelcast.instance.impl.OutOfMemoryErrorDispatcher.onOutOfMemory(
                new OutOfMemoryError("GC overhead limit exceeded"));
    }
}
