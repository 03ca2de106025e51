package kafkaobs.jmx;

import java.io.IOException;
import java.net.MalformedURLException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicBoolean;
import javax.management.Attribute;
import javax.management.InstanceNotFoundException;
import javax.management.MBeanServerConnection;
import javax.management.ObjectName;
import javax.management.ReflectionException;
import javax.management.openmbean.CompositeData;
import javax.management.remote.JMXConnector;
import javax.management.remote.JMXConnectorFactory;
import javax.management.remote.JMXServiceURL;

/**
 * One broker's JMX endpoint: a connection kept open across reads, re-established when it breaks.
 *
 * <p>A read walks every query of the batch over the one connection: one {@code getAttributes} per MBean with all
 * the attributes the batch wants from it. JMX has no call that reads several MBeans at once, so that is the fewest
 * round trips the protocol allows. Each RMI call costs the helper ~80 µs of CPU warm and several times that while
 * the JIT is still cold, so the names a batch reads are <em>resolved</em> once and kept ({@link Resolution}):
 * {@code queryNames} for a pattern, and an exact name the broker does not register (an older Kafka, a broker-only
 * node's controller pool) remembered as absent instead of fetching the same InstanceNotFoundException, a
 * serialized stack trace, every read. The names are resolved again on a new connection (the broker restarted,
 * maybe upgraded), every {@code resolveEvery} reads or {@code resolveMaxAgeNanos} (new topics and partitions
 * appear), and for a pattern at once when one of its MBeans is gone (a deleted topic: its series go in that read).
 * A query sent with {@code "keep":false} (per-topic MBeans, which Kafka creates lazily) is resolved every read.
 *
 * <p>Only one read per broker runs at a time ({@link #begin()}): while a read of a hung broker is stuck in a
 * socket, the next cycle's request is answered "timeout" at once instead of piling up another stuck thread.
 */
final class Broker {

    /** One pattern, the attributes to read from every MBean it matches, whether its resolved names are kept. */
    record Query(ObjectName pattern, String[] attributes, boolean keep) {
    }

    /**
     * A request's queries and how long their resolved names are kept. {@code key} identifies the queries (two
     * clusters may read one broker with different catalogues); {@code resolveEvery} 1 resolves on every read.
     */
    record Batch(String key, List<Query> queries, int resolveEvery, long resolveMaxAgeNanos) {
    }

    /** The names each query of one batch reads on the current connection, and when they were resolved. */
    private static final class Resolution {
        final String key;
        final ObjectName[][] names;
        final long resolvedAt;
        int reads;

        Resolution(String key, int queries, long resolvedAt) {
            this.key = key;
            this.names = new ObjectName[queries][];
            this.resolvedAt = resolvedAt;
        }
    }

    /** A read's rows (a JSON array), whether it had to open a new connection first, whether it resolved names. */
    record Result(CharSequence rows, boolean connected, boolean resolved) {
    }

    /** Why a read failed, in the reasons the Python side reports: unreachable, authentication, protocol. */
    static final class Failure extends Exception {
        private static final long serialVersionUID = 1L;
        final String reason;

        Failure(String reason, String message) {
            super(message, null, false, false);
            this.reason = reason;
        }
    }

    private final JMXServiceURL url;
    private final String username;
    private final String password;
    private final AtomicBoolean busy = new AtomicBoolean();
    private JMXConnector connector;
    private MBeanServerConnection connection;
    private Resolution resolution;

    Broker(String url, String username, String password) throws Failure {
        try {
            this.url = new JMXServiceURL(url);
        } catch (MalformedURLException e) {
            throw new Failure("protocol", "bad JMX service URL: " + e.getMessage());
        }
        this.username = username;
        this.password = password;
    }

    /** Claims the broker for one read; false while the previous read has not returned. */
    boolean begin() {
        return busy.compareAndSet(false, true);
    }

    void end() {
        busy.set(false);
    }

    /** Reads every query, over the open connection when there is one; called only between begin() and end(). */
    Result read(Batch batch) throws Failure {
        boolean connected = false;
        if (connection == null) {
            connect();
            connected = true;
        }
        try {
            return readAll(batch, connected);
        } catch (IOException broken) {
            close();
            if (connected) {
                throw unreachable(broken);
            }
        }
        // The kept connection broke (the broker restarted, a firewall dropped it): one new connection, one retry.
        connect();
        try {
            return readAll(batch, true);
        } catch (IOException broken) {
            close();
            throw unreachable(broken);
        }
    }

    void close() {
        JMXConnector old = connector;
        connector = null;
        connection = null;
        resolution = null; // a new connection resolves again: the broker may have restarted with other MBeans
        if (old != null) {
            try {
                old.close();
            } catch (IOException | RuntimeException ignored) {
                // the other end is gone already; the local side is released either way
            }
        }
    }

    private void connect() throws Failure {
        Map<String, Object> env = new HashMap<>();
        if (username != null) {
            env.put(JMXConnector.CREDENTIALS, new String[] {username, password});
        }
        // No background "is the connection alive" pings every minute: a read finds out, and reconnects.
        env.put("jmx.remote.x.client.connection.check.period", 0L);
        try {
            JMXConnector opened = JMXConnectorFactory.connect(url, env);
            connector = opened;
            connection = opened.getMBeanServerConnection();
        } catch (SecurityException e) {
            close();
            throw new Failure("authentication", "authentication failed: " + JmxHelper.describe(e));
        } catch (IOException e) {
            close();
            SecurityException security = find(e, SecurityException.class);
            if (security != null) {
                throw new Failure("authentication", "authentication failed: " + JmxHelper.describe(security));
            }
            throw unreachable(e);
        } catch (RuntimeException e) {
            close();
            throw new Failure("protocol", "cannot connect: " + JmxHelper.describe(e));
        }
    }

    private Result readAll(Batch batch, boolean connected) throws IOException, Failure {
        List<Query> queries = batch.queries();
        long now = System.nanoTime();
        Resolution resolved = resolution;
        boolean resolving = resolved == null || !resolved.key.equals(batch.key())
                || resolved.reads >= batch.resolveEvery() || now - resolved.resolvedAt >= batch.resolveMaxAgeNanos();
        if (resolving) {
            resolved = new Resolution(batch.key(), queries.size(), now);
            resolution = null; // until this read completes: a read that fails half-way resolves again next time
        }
        StringBuilder rows = new StringBuilder(4096).append('[');
        boolean first = true;
        for (int i = 0; i < queries.size(); i++) {
            Query query = queries.get(i);
            ObjectName[] names = resolved.names[i];
            if (names == null || !query.keep()) {
                names = resolve(query.pattern());
            }
            List<ObjectName> gone = null;
            for (ObjectName name : names) {
                List<Attribute> values = attributes(name, query.attributes());
                if (values == null) {
                    gone = gone == null ? new ArrayList<>() : gone;
                    gone.add(name);
                    continue;
                }
                first = rows(rows, first, name, values);
            }
            if (gone != null && query.pattern().isPattern()) {
                // An MBean went since the names were resolved (a topic deleted, a partition moved): resolve the
                // pattern now, and read what appeared meanwhile, so this read is as complete as an unresolved one.
                Set<ObjectName> read = new HashSet<>(List.of(names));
                names = resolve(query.pattern());
                List<ObjectName> kept = new ArrayList<>(names.length);
                for (ObjectName name : names) {
                    if (!read.contains(name)) {
                        List<Attribute> values = attributes(name, query.attributes());
                        if (values == null) {
                            continue;
                        }
                        first = rows(rows, first, name, values);
                    }
                    kept.add(name);
                }
                names = kept.toArray(new ObjectName[0]);
            } else if (gone != null) {
                names = new ObjectName[0]; // not registered on this broker: not asked again until the next resolve
            }
            resolved.names[i] = names;
        }
        resolved.reads++;
        resolution = resolved;
        return new Result(rows.append(']'), connected, resolving);
    }

    /**
     * The names a query reads now: {@code queryNames} for a pattern (unsorted: ObjectName.compareTo builds canonical
     * strings, a tenth of the helper's CPU when it sorted), the name itself otherwise.
     */
    private ObjectName[] resolve(ObjectName pattern) throws IOException {
        if (!pattern.isPattern()) {
            return new ObjectName[] {pattern};
        }
        return connection.queryNames(pattern, null).toArray(new ObjectName[0]);
    }

    /** One MBean's attributes; null when it is not registered (any more). */
    private List<Attribute> attributes(ObjectName name, String[] attributes) throws IOException, Failure {
        try {
            return connection.getAttributes(name, attributes).asList();
        } catch (InstanceNotFoundException gone) {
            return null;
        } catch (ReflectionException failed) {
            return List.of(); // registered, but its getters failed: no rows this time, asked again next read
        } catch (SecurityException denied) {
            throw new Failure("authentication", "access denied: " + JmxHelper.describe(denied));
        }
    }

    private static boolean rows(StringBuilder rows, boolean first, ObjectName name, List<Attribute> values) {
        String objectName = null;
        for (Attribute attribute : values) {
            Object value = attribute.getValue();
            if (value instanceof CompositeData composite) {
                for (String key : new TreeSet<>(composite.getCompositeType().keySet())) {
                    Object item = composite.get(key);
                    if (simple(item)) {
                        objectName = objectName == null ? name.toString() : objectName;
                        first = row(rows, first, objectName, attribute.getName(), key, item);
                    }
                }
            } else if (simple(value)) {
                objectName = objectName == null ? name.toString() : objectName;
                first = row(rows, first, objectName, attribute.getName(), null, value);
            }
        }
        return first;
    }

    private static boolean simple(Object value) {
        return value instanceof Number || value instanceof Boolean || value instanceof String;
    }

    /** Appends {@code [objectName, attribute, key|null, value]}; returns false (no longer the first row). */
    private static boolean row(StringBuilder rows, boolean first, String name, String attribute, String key,
            Object value) {
        if (!first) {
            rows.append(',');
        }
        rows.append('[');
        Json.quote(rows, name);
        rows.append(',');
        Json.quote(rows, attribute);
        rows.append(',');
        if (key == null) {
            rows.append("null");
        } else {
            Json.quote(rows, key);
        }
        rows.append(',');
        if (value instanceof Number number) {
            Json.number(rows, number);
        } else if (value instanceof Boolean bool) {
            rows.append(bool ? "true" : "false");
        } else {
            Json.quote(rows, value.toString());
        }
        rows.append(']');
        return false;
    }

    private Failure unreachable(IOException e) {
        return new Failure("unreachable", "cannot read " + url.getURLPath().replaceFirst("^/jndi/", "") + ": "
                + JmxHelper.describe(e));
    }

    private static <T extends Throwable> T find(Throwable e, Class<T> type) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (type.isInstance(t)) {
                return type.cast(t);
            }
        }
        return null;
    }
}
