import pkgutil
import runpy

import benchmarks

for module in pkgutil.iter_modules(benchmarks.__path__):
    if not module.name.startswith("_"):
        print(f"== {module.name}")
        runpy.run_module(f"benchmarks.{module.name}", run_name="__main__")
