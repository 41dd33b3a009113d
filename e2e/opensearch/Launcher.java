// e2e/opensearch/Launcher.java — starts one OpenSearch node from Maven Central jars.
//
// A distribution's modules/ folder is not on Maven Central, so the modules a test
// node needs are loaded as classpath plugins, which only Node's protected
// constructor accepts: hence this subclass. Settings come from the command line
// as key=value pairs (path.home is required). e2e/services compiles this file once
// with javac and caches the class.
import java.nio.file.Path;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.CountDownLatch;

import org.opensearch.analysis.common.CommonAnalysisPlugin;
import org.opensearch.common.settings.Settings;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.painless.PainlessPlugin;
import org.opensearch.plugins.Plugin;
import org.opensearch.transport.Netty4Plugin;

public final class Launcher extends Node {
    private static final Collection<Class<? extends Plugin>> PLUGINS =
        List.of(Netty4Plugin.class, CommonAnalysisPlugin.class, PainlessPlugin.class);

    private Launcher(Settings settings) {
        super(InternalSettingsPreparer.prepareEnvironment(settings, java.util.Map.of(), null, () -> "ferry-e2e"),
            PLUGINS, true);
    }

    public static void main(String[] args) throws Exception {
        Settings.Builder b = Settings.builder();
        for (String a : args) {
            int eq = a.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("expected key=value, got: " + a);
            }
            b.put(a.substring(0, eq), a.substring(eq + 1));
        }
        Launcher node = new Launcher(b.build());
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
            } catch (Exception e) {
                e.printStackTrace();
            } finally {
                stopped.countDown();
            }
        }));
        node.start();
        System.out.println("opensearch node started");
        stopped.await();
    }
}
