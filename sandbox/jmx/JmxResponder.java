import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.io.FileOutputStream;
import java.io.FileDescriptor;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.rmi.NoSuchObjectException;
import java.rmi.registry.LocateRegistry;
import java.rmi.registry.Registry;
import java.rmi.server.RMIServerSocketFactory;
import java.rmi.server.UnicastRemoteObject;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import javax.management.Attribute;
import javax.management.AttributeList;
import javax.management.AttributeNotFoundException;
import javax.management.DynamicMBean;
import javax.management.MBeanAttributeInfo;
import javax.management.MBeanInfo;
import javax.management.MBeanServer;
import javax.management.MBeanServerFactory;
import javax.management.ObjectName;
import javax.management.openmbean.CompositeData;
import javax.management.openmbean.CompositeDataSupport;
import javax.management.openmbean.CompositeType;
import javax.management.openmbean.OpenDataException;
import javax.management.openmbean.OpenType;
import javax.management.openmbean.SimpleType;
import javax.management.remote.JMXAuthenticator;
import javax.management.remote.JMXConnectorServer;
import javax.management.remote.JMXConnectorServerFactory;
import javax.management.remote.JMXPrincipal;
import javax.management.remote.JMXServiceURL;
import javax.security.auth.Subject;

/**
 * The sandbox's broker JMX: one JVM that impersonates the JMX endpoints of every simulated Kafka broker.
 *
 * <p>Real Kafka exposes its metrics as MBeans over JMX/RMI, one endpoint per broker. The sandbox has no Kafka, so
 * this process registers MBeans under Kafka's real ObjectNames, one {@link MBeanServer} per simulated broker (so
 * each broker has its own {@code java.lang:type=Memory} and its own topics), each served by its own RMI registry and
 * JMX connector server on its own loopback port. The Python simulation owns every value and feeds it through stdin;
 * this process only stores and serves them, so a JMX client reads exactly what the simulation computed.
 *
 * <p>Line protocol on stdin, fields separated by TAB, one reply line per command on stdout ({@code ok[TAB...]} or
 * {@code error TAB message}); the process prints {@code ready} once it accepts commands:
 *
 * <pre>
 *   open    BROKER PORT [USERNAME PASSWORD]     start serving BROKER on PORT (0 = any free port) -> ok PORT
 *   close   BROKER                              stop serving BROKER (its port goes away; its MBeans are kept)
 *   set     BROKER KIND OBJECTNAME [ATTR=VALUE]... register the MBean if needed, then update the given attributes
 *   remove  BROKER OBJECTNAME                   unregister the MBean (no error when absent)
 *   quit                                        stop everything -> bye
 * </pre>
 *
 * KIND is one of meter, gauge, histogram, memory, gc, appinfo: the attribute sets of Yammer's JmxReporter beans
 * (what Kafka registers) and of the JVM's platform beans. End of input stops the process, so it never outlives the
 * Python process that feeds it.
 */
public final class JmxResponder {

    private final Map<String, Broker> brokers = new HashMap<>();

    public static void main(String[] args) throws IOException {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8);
        JmxResponder responder = new JmxResponder();
        out.println("ready");
        String line;
        while ((line = in.readLine()) != null) {
            if (line.isEmpty()) {
                continue;
            }
            String reply;
            try {
                reply = responder.handle(line.split("\t", -1));
            } catch (Exception e) {
                reply = "error\t" + describe(e);
            }
            out.println(reply);
            if (reply.equals("bye")) {
                break;
            }
        }
        responder.closeAll();
        // RMI keeps non-daemon threads alive; the protocol says end of input ends the process.
        System.exit(0);
    }

    String handle(String[] f) throws Exception {
        switch (f[0]) {
            case "open": {
                need(f, 3, 5);
                if (f.length == 4) {
                    throw new IllegalArgumentException("open takes a username AND a password, or neither");
                }
                Broker broker = brokers.computeIfAbsent(f[1], Broker::new);
                int port = broker.open(Integer.parseInt(f[2]), f.length == 5 ? f[3] : null, f.length == 5 ? f[4] : null);
                return "ok\t" + port;
            }
            case "close":
                need(f, 2, 2);
                broker(f[1]).close();
                return "ok";
            case "set": {
                if (f.length < 4) {
                    throw new IllegalArgumentException("set takes BROKER KIND OBJECTNAME [ATTR=VALUE]...");
                }
                Kind kind = Kind.parse(f[2]);
                SimulatedBean bean = broker(f[1]).bean(new ObjectName(f[3]), kind);
                for (int i = 4; i < f.length; i++) {
                    int eq = f[i].indexOf('=');
                    if (eq <= 0) {
                        throw new IllegalArgumentException("expected ATTR=VALUE, got '" + f[i] + "'");
                    }
                    bean.set(f[i].substring(0, eq), f[i].substring(eq + 1));
                }
                return "ok";
            }
            case "remove":
                need(f, 3, 3);
                broker(f[1]).remove(new ObjectName(f[2]));
                return "ok";
            case "quit":
                return "bye";
            default:
                throw new IllegalArgumentException("unknown command '" + f[0] + "'");
        }
    }

    private Broker broker(String id) {
        Broker broker = brokers.get(id);
        if (broker == null) {
            throw new IllegalArgumentException("unknown broker '" + id + "' (open it first)");
        }
        return broker;
    }

    private void closeAll() {
        for (Broker broker : brokers.values()) {
            try {
                broker.close();
            } catch (IOException e) {
                System.err.println("closing broker " + broker.id + ": " + describe(e));
            }
        }
    }

    private static void need(String[] f, int min, int max) {
        if (f.length < min || f.length > max) {
            throw new IllegalArgumentException(f[0] + " takes " + (min - 1) + (max > min ? " to " + (max - 1) : "")
                    + " arguments, got " + (f.length - 1));
        }
    }

    /** One line, never the password: messages come from JMX/RMI and name ports and ObjectNames only. */
    static String describe(Throwable e) {
        String message = e.getMessage() == null ? "" : ": " + e.getMessage();
        return (e.getClass().getSimpleName() + message).replace('\n', ' ').replace('\t', ' ');
    }

    /** A simulated broker: its own MBean server, served over JMX/RMI while it is "up". */
    static final class Broker {
        final String id;
        final MBeanServer server = MBeanServerFactory.newMBeanServer();
        private final Map<ObjectName, SimulatedBean> beans = new HashMap<>();
        private int port;
        private Registry registry;
        private JMXConnectorServer connector;

        Broker(String id) {
            this.id = id;
        }

        int open(int requestedPort, String username, String password) throws IOException {
            if (connector != null) {
                throw new IllegalStateException("broker '" + id + "' is already open on port " + port);
            }
            int chosen = requestedPort != 0 ? requestedPort : port != 0 ? port : freeLoopbackPort();
            RMIServerSocketFactory sockets = new LoopbackServerSockets();
            // Registry and connector share one port (Kafka's com.sun.management.jmxremote.rmi.port = port), which
            // RMI allows when both are exported with equal socket factories.
            registry = LocateRegistry.createRegistry(chosen, null, sockets);
            Map<String, Object> env = new HashMap<>();
            env.put("jmx.remote.rmi.server.socket.factory", sockets);
            if (username != null) {
                env.put(JMXConnectorServer.AUTHENTICATOR, new PasswordAuthenticator(username, password));
            }
            JMXServiceURL url = new JMXServiceURL(
                    "service:jmx:rmi://127.0.0.1:" + chosen + "/jndi/rmi://127.0.0.1:" + chosen + "/jmxrmi");
            try {
                connector = JMXConnectorServerFactory.newJMXConnectorServer(url, env, server);
                connector.start();
            } catch (IOException | RuntimeException e) {
                connector = null;
                unexport();
                throw e;
            }
            port = chosen;
            return chosen;
        }

        void close() throws IOException {
            if (connector == null) {
                return;
            }
            try {
                connector.stop();
            } finally {
                connector = null;
                unexport();
                // RMI's listening socket is closed by its accept thread, a moment after the unexport returns (the
                // JDK defers the close of a socket another thread is blocked on): wait until the port is really
                // free, so that it is gone when "close" is acknowledged, as a stopped broker's is.
                awaitReleased(port);
            }
        }

        /** Returns once nothing listens on {@code port}: Linux refuses a bind while a listener remains. */
        private static void awaitReleased(int port) throws IOException {
            long deadline = System.nanoTime() + 5_000_000_000L;
            while (true) {
                try (ServerSocket probe = new ServerSocket()) {
                    probe.setReuseAddress(true);
                    probe.bind(new java.net.InetSocketAddress(InetAddress.getLoopbackAddress(), port), 1);
                    return;
                } catch (java.net.BindException stillListening) {
                    if (System.nanoTime() > deadline) {
                        throw new IOException("port " + port + " still in use 5 s after closing the broker");
                    }
                    try {
                        Thread.sleep(1);
                    } catch (InterruptedException interrupted) {
                        Thread.currentThread().interrupt();
                        throw new IOException("interrupted while closing port " + port);
                    }
                }
            }
        }

        private void unexport() {
            if (registry != null) {
                try {
                    UnicastRemoteObject.unexportObject(registry, true);
                } catch (NoSuchObjectException ignored) {
                    // already gone
                }
                registry = null;
            }
        }

        SimulatedBean bean(ObjectName name, Kind kind) throws Exception {
            SimulatedBean existing = beans.get(name);
            if (existing != null) {
                if (existing.kind != kind) {
                    throw new IllegalArgumentException(name + " is a " + existing.kind.label + ", not a " + kind.label);
                }
                return existing;
            }
            SimulatedBean bean = new SimulatedBean(kind, name);
            server.registerMBean(bean, name);
            beans.put(name, bean);
            return bean;
        }

        void remove(ObjectName name) throws Exception {
            if (beans.remove(name) != null) {
                server.unregisterMBean(name);
            }
        }

        private static int freeLoopbackPort() throws IOException {
            try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
                return probe.getLocalPort();
            }
        }
    }

    /** Binds to loopback only: the sandbox never listens beyond this machine. Equal instances share a port. */
    static final class LoopbackServerSockets implements RMIServerSocketFactory {
        @Override
        public ServerSocket createServerSocket(int port) throws IOException {
            ServerSocket socket = new ServerSocket();
            socket.setReuseAddress(true);
            socket.bind(new java.net.InetSocketAddress(InetAddress.getLoopbackAddress(), port), 50);
            return socket;
        }

        @Override
        public boolean equals(Object other) {
            return other instanceof LoopbackServerSockets;
        }

        @Override
        public int hashCode() {
            return LoopbackServerSockets.class.hashCode();
        }
    }

    /** Username/password check like Kafka's jmxremote.password file, compared in constant time. */
    static final class PasswordAuthenticator implements JMXAuthenticator {
        private final byte[] username;
        private final byte[] password;

        PasswordAuthenticator(String username, String password) {
            this.username = username.getBytes(StandardCharsets.UTF_8);
            this.password = password.getBytes(StandardCharsets.UTF_8);
        }

        @Override
        public Subject authenticate(Object credentials) {
            if (credentials instanceof String[] given && given.length == 2 && given[0] != null && given[1] != null) {
                boolean user = MessageDigest.isEqual(username, given[0].getBytes(StandardCharsets.UTF_8));
                boolean pass = MessageDigest.isEqual(password, given[1].getBytes(StandardCharsets.UTF_8));
                if (user & pass) {
                    return new Subject(true, Set.of(new JMXPrincipal(given[0])), Set.of(), Set.of());
                }
            }
            // The JDK's own wording for a failed jmxremote.password check, which clients already recognise.
            throw new SecurityException("Authentication failed! Invalid username or password");
        }
    }

    /** The attribute sets of the MBean types Kafka and the JVM register. */
    enum Kind {
        METER("meter", "Count:long", "MeanRate:double", "OneMinuteRate:double", "FiveMinuteRate:double",
                "FifteenMinuteRate:double", "EventType:string", "RateUnit:string"),
        GAUGE("gauge", "Value:number"),
        HISTOGRAM("histogram", "Count:long", "Min:double", "Max:double", "Mean:double", "StdDev:double",
                "50thPercentile:double", "75thPercentile:double", "95thPercentile:double", "98thPercentile:double",
                "99thPercentile:double", "999thPercentile:double"),
        MEMORY("memory", "HeapMemoryUsage:usage", "NonHeapMemoryUsage:usage"),
        GC("gc", "CollectionCount:long", "CollectionTime:long", "Name:string", "Valid:boolean"),
        APPINFO("appinfo", "Version:string", "CommitId:string", "StartTimeMs:long");

        final String label;
        final Map<String, String> attributes = new LinkedHashMap<>();

        Kind(String label, String... specs) {
            this.label = label;
            for (String spec : specs) {
                String[] parts = spec.split(":");
                attributes.put(parts[0], parts[1]);
            }
        }

        static Kind parse(String label) {
            for (Kind kind : values()) {
                if (kind.label.equals(label)) {
                    return kind;
                }
            }
            throw new IllegalArgumentException("unknown kind '" + label + "'");
        }
    }

    /**
     * A bean whose attribute values the simulation sets. Values live in a concurrent map: the command loop writes
     * while RMI threads read. A {@code usage} attribute (java.lang.management.MemoryUsage) is set key by key, e.g.
     * {@code HeapMemoryUsage.used=123}, and read as the CompositeData a real JVM returns.
     */
    static final class SimulatedBean implements DynamicMBean {
        private static final String[] USAGE_KEYS = {"committed", "init", "max", "used"};
        private static final CompositeType USAGE_TYPE = usageType();

        final Kind kind;
        private final MBeanInfo info;
        private final Map<String, Object> values = new ConcurrentHashMap<>();

        SimulatedBean(Kind kind, ObjectName name) {
            this.kind = kind;
            List<MBeanAttributeInfo> attributes = new ArrayList<>();
            for (Map.Entry<String, String> attribute : kind.attributes.entrySet()) {
                String type = attribute.getValue();
                attributes.add(new MBeanAttributeInfo(attribute.getKey(), javaType(type), attribute.getKey(), true,
                        false, type.equals("boolean")));
                if (type.equals("usage")) {
                    for (String key : USAGE_KEYS) {
                        values.put(attribute.getKey() + "." + key, 0L);
                    }
                } else {
                    values.put(attribute.getKey(), initial(type, name));
                }
            }
            info = new MBeanInfo(SimulatedBean.class.getName(), "simulated " + kind.label + " " + name,
                    attributes.toArray(new MBeanAttributeInfo[0]), null, null, null);
        }

        void set(String attribute, String text) {
            int dot = attribute.indexOf('.');
            String base = dot < 0 ? attribute : attribute.substring(0, dot);
            String type = kind.attributes.get(base);
            if (type == null || (type.equals("usage") != (dot >= 0))
                    || (dot >= 0 && !values.containsKey(attribute))) {
                throw new IllegalArgumentException("a " + kind.label + " has no attribute '" + attribute + "'");
            }
            values.put(attribute, convert(type, text));
        }

        @Override
        public Object getAttribute(String attribute) throws AttributeNotFoundException {
            String type = kind.attributes.get(attribute);
            if (type == null) {
                throw new AttributeNotFoundException(attribute);
            }
            return type.equals("usage") ? usage(attribute) : values.get(attribute);
        }

        private CompositeData usage(String attribute) {
            Object[] items = new Object[USAGE_KEYS.length];
            for (int i = 0; i < USAGE_KEYS.length; i++) {
                items[i] = values.get(attribute + "." + USAGE_KEYS[i]);
            }
            try {
                return new CompositeDataSupport(USAGE_TYPE, USAGE_KEYS, items);
            } catch (OpenDataException e) {
                throw new IllegalStateException(e);
            }
        }

        @Override
        public AttributeList getAttributes(String[] attributes) {
            AttributeList list = new AttributeList();
            for (String attribute : attributes) {
                try {
                    list.add(new Attribute(attribute, getAttribute(attribute)));
                } catch (AttributeNotFoundException ignored) {
                    // the JMX contract: unknown attributes are left out of the list
                }
            }
            return list;
        }

        @Override
        public void setAttribute(Attribute attribute) throws AttributeNotFoundException {
            throw new AttributeNotFoundException("read-only: " + attribute.getName());
        }

        @Override
        public AttributeList setAttributes(AttributeList attributes) {
            return new AttributeList();
        }

        @Override
        public Object invoke(String action, Object[] params, String[] signature) {
            throw new UnsupportedOperationException(action);
        }

        @Override
        public MBeanInfo getMBeanInfo() {
            return info;
        }

        private static Object initial(String type, ObjectName name) {
            switch (type) {
                case "long":
                    return 0L;
                case "double":
                    return 0.0;
                case "number":
                    return 0;
                case "boolean":
                    return Boolean.TRUE;
                default:
                    // Yammer's meters report their event type and rate unit; a GC bean its own name.
                    String fallback = name.getKeyProperty("name");
                    return fallback == null ? "" : fallback;
            }
        }

        private static Object convert(String type, String text) {
            switch (type) {
                case "long":
                case "usage":
                    return Long.parseLong(text);
                case "double":
                    return Double.parseDouble(text);
                case "number":
                    // Kafka's gauges return Integer, Long or Double depending on the metric; keep what was sent.
                    return text.matches("-?\\d+") ? (Object) Long.parseLong(text) : (Object) Double.parseDouble(text);
                case "boolean":
                    return Boolean.parseBoolean(text);
                default:
                    return text;
            }
        }

        private static String javaType(String type) {
            switch (type) {
                case "long":
                    return "long";
                case "double":
                    return "double";
                case "boolean":
                    return "boolean";
                case "usage":
                    return CompositeData.class.getName();
                case "number":
                    return Object.class.getName();
                default:
                    return String.class.getName();
            }
        }

        private static CompositeType usageType() {
            OpenType<?>[] types = new OpenType<?>[USAGE_KEYS.length];
            java.util.Arrays.fill(types, SimpleType.LONG);
            try {
                return new CompositeType("java.lang.management.MemoryUsage", "MemoryUsage", USAGE_KEYS, USAGE_KEYS,
                        types);
            } catch (OpenDataException e) {
                throw new ExceptionInInitializerError(e);
            }
        }
    }

    private JmxResponder() {
        // instances only through main(): one per process, state owned by the command loop
    }
}
