package kafkaobs.jmx;

import java.io.BufferedReader;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.rmi.server.RMISocketFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Level;
import java.util.logging.LogManager;
import java.util.logging.Logger;
import javax.management.MalformedObjectNameException;
import javax.management.ObjectName;

/**
 * The exporter's long-lived JMX client: one JVM per exporter process, one kept connection per broker.
 *
 * <p>Protocol: one JSON object per line on stdin, one JSON reply per line on stdout, matched by {@code id}; replies
 * come in the order reads finish, not the order they were asked. On start the helper prints
 * {@code {"ready":true,"protocol":1}}.
 *
 * <pre>
 * -&gt; {"id":7,"op":"read","url":"service:jmx:rmi:///jndi/rmi://host:9999/jmxrmi","username":"u","password":"p",
 *     "timeout_ms":10000,"queries":[{"pattern":"kafka.server:type=BrokerTopicMetrics,name=BytesInPerSec,*",
 *     "attributes":["Count"],"keep":false}, ...],"resolve_every":10,"resolve_max_age_ms":300000}
 * &lt;- {"id":7,"ok":true,"connected":false,"resolved":false,"rows":[["ObjectName","Attribute",null,123],
 *     ["…","HeapMemoryUsage","used",5]]}
 * &lt;- {"id":7,"ok":false,"reason":"unreachable|authentication|timeout|protocol","message":"…"}
 * </pre>
 *
 * <p>The names the queries match are resolved on a broker's first read and kept on its connection (see
 * {@link Broker}) for {@code resolve_every} reads (default 1: every read) and at most {@code resolve_max_age_ms}
 * (default unbounded); {@code "resolved":true} says a read resolved them.
 *
 * <p>Credentials arrive only in requests, so they never appear in the JVM's command line; nothing here logs a
 * request, and error messages are built from exception types and messages, which never carry them. Reads run on
 * their own threads, each answered "timeout" after its {@code timeout_ms} even while its thread is still stuck on a
 * hung broker, so one broker never delays another. End of input (the exporter exited, even killed) ends the JVM.
 */
public final class JmxHelper {

    static final int PROTOCOL = 1;
    /** A TCP connect to a host that drops packets gives up after this long (the read's own deadline is sooner). */
    static final int CONNECT_TIMEOUT_MS = 10_000;

    private final Map<String, Broker> brokers = new ConcurrentHashMap<>();
    private final ExecutorService readers = Executors.newCachedThreadPool(daemons("jmx-read"));
    private final ScheduledThreadPoolExecutor deadlines = new ScheduledThreadPoolExecutor(1, daemons("jmx-deadline"));
    private final Writer out;

    private JmxHelper(Writer out) {
        this.out = out;
        // A read that answers in time cancels its deadline: drop it from the queue now, rather than wake this
        // thread at every cancelled deadline (one per read, ten seconds later) to discard it.
        deadlines.setRemoveOnCancelPolicy(true);
    }

    public static void main(String[] args) throws IOException {
        // A socket read stuck on a hung broker gives up after the longest timeout clusters.yaml allows (300 s), so
        // a broker hung forever holds one thread, not one per cycle; idle connections are kept between cycles.
        System.setProperty("sun.rmi.transport.tcp.responseTimeout", "300000");
        System.setProperty("sun.rmi.transport.connectionTimeout", "600000");
        RMISocketFactory.setSocketFactory(new ConnectTimeoutSockets());
        // The JMX client logs its own reconnection attempts (several lines per failed read of a stopped broker);
        // the reply already carries the reason, and stderr is kept for what would kill the helper.
        LogManager.getLogManager().reset();
        Logger.getLogger("").setLevel(Level.OFF);
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        Writer out = new OutputStreamWriter(new FileOutputStream(FileDescriptor.out), StandardCharsets.UTF_8);
        JmxHelper helper = new JmxHelper(out);
        helper.write("{\"ready\":true,\"protocol\":" + PROTOCOL + "}");
        String line;
        while ((line = in.readLine()) != null) {
            if (!line.isBlank()) {
                helper.handle(line);
            }
        }
        // RMI keeps non-daemon threads; the exporter is gone, so is its helper.
        System.exit(0);
    }

    private void handle(String line) {
        long id = -1;
        try {
            Map<String, Object> request = Json.parseObject(line);
            id = Json.integer(request, "id");
            String op = Json.string(request, "op", true);
            if (!op.equals("read")) {
                throw new IllegalArgumentException("unknown op '" + op + "'");
            }
            read(id, request);
        } catch (IllegalArgumentException | Broker.Failure e) {
            reply(id, failure(e instanceof Broker.Failure f ? f.reason : "protocol", e.getMessage()));
        }
    }

    private void read(long id, Map<String, Object> request) throws Broker.Failure {
        String url = Json.string(request, "url", true);
        String username = Json.string(request, "username", false);
        String password = Json.string(request, "password", false);
        if ((username == null) != (password == null)) {
            throw new IllegalArgumentException("give a username and a password, or neither");
        }
        long timeoutMs = Json.integer(request, "timeout_ms");
        if (timeoutMs <= 0) {
            throw new IllegalArgumentException("'timeout_ms' must be positive");
        }
        Broker.Batch queries = batch(request);
        String key = url + '\u0000' + (username == null ? "" : username + '\u0000' + password);
        Broker broker = brokers.get(key);
        if (broker == null) {
            broker = new Broker(url, username, password);
            Broker raced = brokers.putIfAbsent(key, broker);
            broker = raced == null ? broker : raced;
        }
        if (!broker.begin()) {
            reply(id, failure("timeout", "the previous read of this broker has not answered yet"));
            return;
        }
        AtomicBoolean answered = new AtomicBoolean();
        String seconds = timeoutMs % 1000 == 0 ? Long.toString(timeoutMs / 1000) : Double.toString(timeoutMs / 1000.0);
        ScheduledFuture<?> deadline = deadlines.schedule(() -> {
            if (answered.compareAndSet(false, true)) {
                reply(id, failure("timeout", "no answer within " + seconds + "s"));
            }
        }, timeoutMs, TimeUnit.MILLISECONDS);
        Broker claimed = broker;
        readers.execute(() -> {
            String body;
            try {
                Broker.Result result = claimed.read(queries);
                body = "\"ok\":true,\"connected\":" + result.connected() + ",\"resolved\":" + result.resolved()
                        + ",\"rows\":" + result.rows();
            } catch (Broker.Failure f) {
                body = failure(f.reason, f.getMessage());
            } catch (RuntimeException | OutOfMemoryError e) {
                claimed.close();
                body = failure("protocol", "read failed: " + describe(e));
            } finally {
                claimed.end();
            }
            deadline.cancel(false);
            if (answered.compareAndSet(false, true)) {
                reply(id, body);
            }
        });
    }

    private static Broker.Batch batch(Map<String, Object> request) {
        List<?> items = Json.list(request, "queries");
        long every = request.containsKey("resolve_every") ? Json.integer(request, "resolve_every") : 1;
        long maxAgeMs = request.containsKey("resolve_max_age_ms")
                ? Json.integer(request, "resolve_max_age_ms") : Long.MAX_VALUE / 1_000_000;
        if (every <= 0 || every > Integer.MAX_VALUE || maxAgeMs <= 0) {
            throw new IllegalArgumentException("'resolve_every' and 'resolve_max_age_ms' must be positive");
        }
        List<Broker.Query> queries = new ArrayList<>(items.size());
        StringBuilder key = new StringBuilder();
        for (Object item : items) {
            if (!(item instanceof Map<?, ?> map)) {
                throw new IllegalArgumentException("each query must be an object");
            }
            Object pattern = map.get("pattern");
            Object attributes = map.get("attributes");
            Object keep = map.containsKey("keep") ? map.get("keep") : Boolean.TRUE;
            if (!(keep instanceof Boolean)) {
                throw new IllegalArgumentException("a query's 'keep' is true or false");
            }
            if (!(pattern instanceof String) || !(attributes instanceof List<?> names) || names.isEmpty()) {
                throw new IllegalArgumentException("a query has a 'pattern' and a non-empty list of 'attributes'");
            }
            String[] wanted = new String[names.size()];
            for (int i = 0; i < wanted.length; i++) {
                if (!(names.get(i) instanceof String name)) {
                    throw new IllegalArgumentException("attribute names are strings");
                }
                wanted[i] = name;
                key.append(name).append('\u0000');
            }
            key.append((String) pattern).append(keep.equals(Boolean.TRUE) ? '\u0001' : '\u0002');
            try {
                queries.add(new Broker.Query(new ObjectName((String) pattern), wanted, (Boolean) keep));
            } catch (MalformedObjectNameException e) {
                throw new IllegalArgumentException("bad ObjectName pattern '" + pattern + "': " + e.getMessage());
            }
        }
        return new Broker.Batch(key.toString(), queries, (int) every, maxAgeMs * 1_000_000);
    }

    private static String failure(String reason, String message) {
        StringBuilder body = new StringBuilder("\"ok\":false,\"reason\":");
        Json.quote(body, reason);
        body.append(",\"message\":");
        Json.quote(body, message == null ? "" : message);
        return body.toString();
    }

    private void reply(long id, String body) {
        write("{\"id\":" + id + "," + body + "}");
    }

    private synchronized void write(String line) {
        try {
            out.write(line);
            out.write('\n');
            out.flush();
        } catch (IOException gone) {
            System.exit(0); // the exporter closed its end: nobody is left to answer
        }
    }

    /** One line naming the innermost cause, e.g. {@code ConnectException: Connection refused}. */
    static String describe(Throwable e) {
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        String message = root.getMessage() == null ? "" : ": " + root.getMessage();
        return (root.getClass().getSimpleName() + message).replaceAll("\\s+", " ").trim();
    }

    private static ThreadFactory daemons(String prefix) {
        AtomicInteger count = new AtomicInteger();
        return runnable -> {
            Thread thread = new Thread(runnable, prefix + "-" + count.incrementAndGet());
            thread.setDaemon(true);
            return thread;
        };
    }

    /** RMI's default sockets, with a bounded connect (the JDK's default waits for the kernel, minutes). */
    static final class ConnectTimeoutSockets extends RMISocketFactory {
        @Override
        public Socket createSocket(String host, int port) throws IOException {
            Socket socket = new Socket();
            try {
                socket.connect(new InetSocketAddress(host, port), CONNECT_TIMEOUT_MS);
                socket.setTcpNoDelay(true);
            } catch (IOException e) {
                socket.close();
                throw e;
            }
            return socket;
        }

        @Override
        public ServerSocket createServerSocket(int port) throws IOException {
            return RMISocketFactory.getDefaultSocketFactory().createServerSocket(port);
        }
    }
}
