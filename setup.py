"""Builds the optional C half of the statement readers (src/bankgate/formats/_speedups.pyx).

Everything else about the package is in pyproject.toml. Without Cython or a C compiler the
package still installs and reads every file, in Python (formats/speedups.py).
"""

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


class _OptionalBuildExt(build_ext):
    """Builds each C extension it can; one that fails to compile is left out, with a
    warning, and its Python twin is used (formats/speedups.py, swift/compiled.py)."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # no compiler at all, or a broken toolchain
            self.warn(f"the readers' C half was not built ({exc}); they run in Python")

    def build_extension(self, ext: Extension) -> None:
        try:
            super().build_extension(ext)
        except Exception as exc:
            self.warn(f"{ext.name} was not built ({exc}); its Python twin is used")


def _extensions() -> list[Extension]:
    try:
        import lxml
        from Cython.Build import cythonize
    except ImportError:
        return []
    return cythonize(
        [Extension("bankgate.formats._speedups", ["src/bankgate/formats/_speedups.pyx"],
                   include_dirs=lxml.get_include(), optional=True),
         Extension("bankgate.formats.swift._mt940_speedups",
                   ["src/bankgate/formats/swift/_mt940_speedups.pyx"], optional=True)],
        compiler_directives={"language_level": "3"}, quiet=True)


setup(ext_modules=_extensions(), cmdclass={"build_ext": _OptionalBuildExt})
