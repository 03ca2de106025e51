package kafkaobs.jmx;

import java.io.IOException;
import java.net.MalformedURLException;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
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
 * <p>A read walks every query of the batch over the one connection: {@code queryNames} for a pattern (an exact
 * name skips it), then one {@code getAttributes} per MBean with all the attributes the batch wants from it. JMX
 * has no call that reads several MBeans at once, so that is the fewest round trips the protocol allows.
 *
 * <p>Only one read per broker runs at a time ({@link #begin()}): while a read of a hung broker is stuck in a
 * socket, the next cycle's request is answered "timeout" at once instead of piling up another stuck thread.
 */
final class Broker {

    /** One pattern and the attributes to read from every MBean it matches. */
    record Query(ObjectName pattern, String[] attributes) {
    }

    /** A read's rows (a JSON array) and whether it had to open a new connection first. */
    record Result(CharSequence rows, boolean connected) {
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
    Result read(List<Query> queries) throws Failure {
        boolean connected = false;
        if (connection == null) {
            connect();
            connected = true;
        }
        try {
            return new Result(readAll(queries), connected);
        } catch (IOException broken) {
            close();
            if (connected) {
                throw unreachable(broken);
            }
        }
        // The kept connection broke (the broker restarted, a firewall dropped it): one new connection, one retry.
        connect();
        try {
            return new Result(readAll(queries), true);
        } catch (IOException broken) {
            close();
            throw unreachable(broken);
        }
    }

    void close() {
        JMXConnector old = connector;
        connector = null;
        connection = null;
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

    private CharSequence readAll(List<Query> queries) throws IOException, Failure {
        StringBuilder rows = new StringBuilder(4096).append('[');
        boolean first = true;
        for (Query query : queries) {
            // Unsorted: ObjectName.compareTo builds canonical strings, a tenth of the helper's CPU when sorted.
            Collection<ObjectName> names = query.pattern().isPattern()
                    ? connection.queryNames(query.pattern(), null)
                    : List.of(query.pattern());
            for (ObjectName name : names) {
                List<Attribute> values;
                try {
                    values = connection.getAttributes(name, query.attributes()).asList();
                } catch (InstanceNotFoundException | ReflectionException gone) {
                    continue; // not registered on this broker (an older Kafka), or unregistered since queryNames
                } catch (SecurityException denied) {
                    throw new Failure("authentication", "access denied: " + JmxHelper.describe(denied));
                }
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
            }
        }
        return rows.append(']');
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
